// Compiles a solc standard-JSON input read from stdin with the pinned solc-js (package.json) and
// writes the standard-JSON output to stdout. `--version` prints the compiler's version.
const solc = require("solc");

if (process.argv.includes("--version")) {
  process.stdout.write(solc.version() + "\n");
} else {
  const chunks = [];
  process.stdin.on("data", (c) => chunks.push(c));
  process.stdin.on("end", () => {
    process.stdout.write(solc.compile(Buffer.concat(chunks).toString("utf8")));
  });
}
