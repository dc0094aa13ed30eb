#!/usr/bin/env node
// The `baton` command. A committed launcher, so the executable bit survives a clean build.
import "../dist/bin.js";
