/** One problem found in a rules file: where (dotted path, and the YAML line when known) and what. */
export interface RulesIssue {
  /** e.g. `rules[2].multiplier`; `(root)` for the document itself, `(yaml)` for syntax errors. */
  path: string;
  message: string;
  /** 1-based line in the YAML text, when the parser or the node position gives one. */
  line?: number;
}

/** Thrown for any invalid rules file; the message lists every issue so one run shows them all. */
export class RulesConfigError extends Error {
  readonly issues: RulesIssue[];
  readonly source: string | undefined;

  constructor(issues: RulesIssue[], source?: string) {
    super(formatIssues(issues, source));
    this.name = 'RulesConfigError';
    this.issues = issues;
    this.source = source;
  }
}

function formatIssues(issues: RulesIssue[], source: string | undefined): string {
  // Compiler style (file:line: ...) so editors can jump to the line.
  const at = (line: number): string => (source !== undefined ? `${source}:${line}: ` : `line ${line}: `);
  const lines = issues.map((i) => `  ${i.line !== undefined ? at(i.line) : ''}${i.path}: ${i.message}`);
  return `invalid rules${source !== undefined ? ` in ${source}` : ''} (${issues.length} issue${issues.length === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}
