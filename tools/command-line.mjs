// The command line both MCP scripts take: the endpoint's URL, a repeatable --<option>, and
// the API key in ATRIUM_MCP_KEY (the environment, not the command line other processes can
// read). Read with Node's own parseArgs; a bad command line exits 2 with the usage.
import { parseArgs } from 'node:util';

export function usageOf(script, option) {
    return (message) => {
        process.stderr.write(`${script}: ${message}\n` +
            `usage: ATRIUM_MCP_KEY=<key> node ${script}.mjs URL [--${option} V]...\n`);
        process.exit(2);
    };
}

// Return { url, key, values }: values are the option's, else `defaults`; each must be one
// of `allowed` when that is given.
export function readCommandLine(script, option, defaults, allowed = null) {
    const usage = usageOf(script, option);
    let parsed;
    try {
        parsed = parseArgs({ args: process.argv.slice(2), allowPositionals: true, strict: true,
                             options: { [option]: { type: 'string', multiple: true } } });
    } catch (error) {
        usage(error.message);
    }
    const [url, ...extra] = parsed.positionals;
    if (url === undefined) usage('the URL of the MCP endpoint is missing');
    if (extra.length) usage(`unexpected argument ${extra[0]}`);
    const values = parsed.values[option] ?? [...defaults];
    const refused = allowed ? values.find((value) => !allowed.includes(value)) : undefined;
    if (refused !== undefined) usage(`--${option} takes one of ${allowed.join(', ')}`);
    const key = process.env.ATRIUM_MCP_KEY;
    if (!key) usage('ATRIUM_MCP_KEY (the API key sent as a Bearer token) is not set');
    return { url: new URL(url), key, values };
}
