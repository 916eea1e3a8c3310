#!/usr/bin/env node
// The `vv` command. The repository runs TypeScript sources directly: register tsx's loader,
// then load the CLI, which runs `vv run FILE` / `vv test FILE…` (src/cli.ts).
import { register } from "tsx/esm/api"

register()
await import("../src/cli.ts")
