// List and call every tool of an MCP server with the official TypeScript SDK client (issue 16,
// item 7): a tool schema that the Python SDK accepts and this one refuses fails CI.
//
//   ATRIUM_MCP_KEY=<api key> node tools/mcp-client.mjs http://host/mcp/ [--protocol-version V]...
//
// The key travels in the environment, not on the command line other processes can read. One
// session per protocol version (every version the SDK speaks unless --protocol-version names
// some): initialize, tools/list through every page, tools/call of each tool with {}. Prints
// one JSON object on stdout and exits 1 when anything failed: a transport or protocol error,
// an error result, or structured content that the SDK's own output-schema check refuses.
import { readFileSync } from 'node:fs';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StreamableHTTPClientTransport } from '@modelcontextprotocol/sdk/client/streamableHttp.js';
import { SUPPORTED_PROTOCOL_VERSIONS } from '@modelcontextprotocol/sdk/types.js';
import { AjvJsonSchemaValidator } from '@modelcontextprotocol/sdk/validation/ajv';
import { readCommandLine } from './command-line.mjs';

// The package's exports map its package.json to a stub without the version: read the file.
const SDK_VERSION = JSON.parse(readFileSync(
    new URL('./node_modules/@modelcontextprotocol/sdk/package.json', import.meta.url))).version;
// Pages of tools/list followed before the listing counts as a loop.
const MAX_PAGES = 100;

function errorText(error) {
    return error instanceof Error ? error.message : String(error);
}

// The SDK's Client always offers its latest version in initialize; asking for an older one
// means rewriting that one outgoing message (the server answers with the version it picks,
// which the SDK then checks against the versions it speaks).
function offeringVersion(transport, version) {
    const send = transport.send.bind(transport);
    transport.send = (message, options) => {
        if (message.method === 'initialize') {
            message = { ...message, params: { ...message.params, protocolVersion: version } };
        }
        return send(message, options);
    };
    return transport;
}

async function listAllTools(client) {
    const tools = [];
    let cursor;
    for (let page = 0; page < MAX_PAGES; page += 1) {
        const result = await client.listTools(cursor === undefined ? {} : { cursor });
        tools.push(...result.tools);
        cursor = result.nextCursor;
        if (!cursor) {
            // listTools() caches the output-schema validators of its own page only: cache
            // every page's, so each call below is checked (the method is private in the
            // typings, public at run time; the SDK is pinned in package.json).
            client.cacheToolMetadata(tools);
            return tools;
        }
    }
    throw new Error(`tools/list still had a next page after ${MAX_PAGES} pages`);
}

async function callTool(client, tool) {
    const checked = Boolean(tool.outputSchema);
    if (checked && !client.getToolOutputValidator(tool.name)) {
        return { ok: false, error: 'the SDK did not compile a validator for the output schema' };
    }
    try {
        const result = await client.callTool({ name: tool.name, arguments: {} });
        const structured = result.structuredContent !== undefined;
        const text = (result.content ?? []).filter((part) => part.type === 'text')
            .map((part) => part.text).join('\n');
        return {
            ok: !result.isError,
            isError: Boolean(result.isError),
            structuredContent: structured,
            // callTool() throws when structured content does not match the output schema.
            validated: checked && structured,
            error: result.isError ? text : null,
        };
    } catch (error) {
        return { ok: false, isError: null, structuredContent: null, validated: false,
                 error: errorText(error) };
    }
}

async function session({ url, key }, version) {
    const run = { requestedVersion: version, negotiatedVersion: null, tools: [], calls: {},
                  error: null };
    const transport = offeringVersion(new StreamableHTTPClientTransport(url, {
        requestInit: { headers: { Authorization: `Bearer ${key}` } },
    }), version);
    const client = new Client({ name: 'atrium-ci', version: '1.0' }, {
        // The default, named so the check cannot be switched off by a changed default.
        jsonSchemaValidator: new AjvJsonSchemaValidator(),
    });
    try {
        await client.connect(transport);
        run.negotiatedVersion = transport.protocolVersion ?? null;
        const tools = await listAllTools(client);
        run.tools = tools.map((tool) => tool.name);
        for (const tool of tools) {
            run.calls[tool.name] = await callTool(client, tool);
        }
    } catch (error) {
        run.error = errorText(error);
    } finally {
        await client.close().catch(() => {});
    }
    run.ok = run.error === null && Object.values(run.calls).every((call) => call.ok);
    return run;
}

const { url, key, values: versions } = readCommandLine(
    'mcp-client', 'protocol-version', SUPPORTED_PROTOCOL_VERSIONS);
const options = { url, key };
const runs = [];
for (const version of versions) {
    runs.push(await session(options, version));
}
const ok = runs.every((run) => run.ok);
process.stdout.write(`${JSON.stringify({ sdk: SDK_VERSION, ok, runs }, null, 2)}\n`);
process.exit(ok ? 0 : 1);
