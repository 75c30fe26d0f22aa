/** `hearth <command>`: serve (HTTP server), run (one generation), bench (see bench/). */
export {};
const usage = `usage: hearth <command> [options]

commands:
  serve   serve the OpenAI-compatible API (default model: the embedded demo model)
  run     generate once from a prompt and print the result

run \`hearth <command> --help\` for the options of a command.`;

const [command, ...rest] = process.argv.slice(2);
switch (command) {
  case 'serve':
    await (await import('./serve.ts')).main(rest);
    break;
  case 'run':
    await (await import('./run.ts')).main(rest);
    break;
  case undefined:
  case '-h':
  case '--help':
  case 'help':
    console.log(usage);
    break;
  default:
    console.error(`hearth: unknown command '${command}'\n\n${usage}`);
    process.exitCode = 2;
}
