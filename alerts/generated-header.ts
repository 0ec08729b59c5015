/** The do-not-edit header of every generated file; `npm run check:generated` catches hand edits. */
export const HEADER_LINES = [
  'GENERATED FILE - DO NOT EDIT.',
  'Source: alerts/ (the alert catalogue). Change the catalogue or alerts/overrides/<env>.yml,',
  'then run `npm run generate`; `npm run check:generated` fails on drift.',
] as const;

export function yamlHeader(): string {
  return HEADER_LINES.map((l) => `# ${l}`).join('\n') + '\n';
}

export function tsHeader(): string {
  return `/*\n${HEADER_LINES.map((l) => ` * ${l}`).join('\n')}\n */\n`;
}

export function markdownHeader(): string {
  return `<!-- ${HEADER_LINES.join(' ')} -->\n`;
}
