/**
 * Summarises a V8 `.cpuprofile` (from `node --cpu-prof`, e.g. `npm run bench -- --cpu-prof DIR`):
 * self time by area and by function, and inclusive time of Baton's own functions.
 *
 *   node --import tsx bench/profile-summary.ts /tmp/prof/CPU.20250101.123456.1234.0.001.cpuprofile [top]
 */
import { formatProfile, summariseProfile } from "./lib/cpuprofile.js";

const [path, top] = process.argv.slice(2);
if (!path) {
  process.stderr.write("usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [top=25]\n");
  process.exit(2);
}
process.stdout.write(`${formatProfile(summariseProfile(path, top ? Number(top) : 25))}\n`);
