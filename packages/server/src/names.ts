/**
 * Readable run names ("brisk-otter"), as Prefect gives runs that were not named, so people
 * can tell runs apart in the CLI and UI without reading UUIDs.
 */
const ADJECTIVES = [
  "amber", "bold", "brisk", "calm", "clever", "crimson", "daring", "eager", "fancy", "gentle",
  "golden", "hasty", "humble", "icy", "jolly", "keen", "lively", "lucky", "mellow", "misty",
  "nimble", "noble", "olive", "patient", "quick", "quiet", "rapid", "rustic", "silver", "smooth",
  "steady", "sunny", "swift", "tidy", "urban", "vivid", "wandering", "witty", "young", "zesty",
];
const ANIMALS = [
  "albatross", "badger", "beaver", "bison", "cheetah", "cobra", "crane", "dolphin", "eagle", "ferret",
  "finch", "fox", "gazelle", "gecko", "heron", "ibis", "jackal", "koala", "lemur", "lynx",
  "marmot", "mongoose", "narwhal", "ocelot", "orca", "otter", "owl", "panda", "pelican", "puffin",
  "quail", "raven", "salamander", "seal", "sparrow", "tapir", "toucan", "walrus", "wombat", "yak",
];

function pick(words: readonly string[]): string {
  return words[Math.floor(Math.random() * words.length)] ?? words[0]!;
}

export function generateRunName(): string {
  return `${pick(ADJECTIVES)}-${pick(ANIMALS)}`;
}
