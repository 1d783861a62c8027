/** One line of the chaos table that test/chaos/run.ts prints: every scenario, process faults or network ones, reports this. */
export interface ChaosRow {
  scenario: string;
  trials: number;
  events: number;
  lost: number;
  wrong: number;
  result: 'pass' | 'FAIL' | 'skipped';
  note: string;
}
