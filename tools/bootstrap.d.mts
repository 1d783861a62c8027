// Types of the plain-JavaScript bootstrap (it runs before node_modules exists, so it cannot be TypeScript).
export declare const PACKAGES: Record<'native' | 'broker' | 'test' | 'postgres', string[]>;
export declare const COMMANDS: Record<
  'start' | 'demo' | 'test' | 'bench' | 'chaos',
  { packages: string[]; postgres: boolean; runsDist: boolean }
>;
export declare const BUILD_INPUTS: string[];
export declare const INSTALL_STAMP: string;
export declare const BUILD_STAMP: string;
export declare function missingPackages(wanted: string[], dpkgOutput: string): string[];
export declare function dpkgInterrupted(dpkgOutput: string): boolean;
export type InstallPlan = { kind: 'ask'; line: string } | { kind: 'install'; steps: string[][] };
export declare function installPlan(missing: string[], who: { root: boolean; sudo: boolean }): InstallPlan;
export declare function installReason(state: {
  lockMs: number;
  stampMs: number | null;
  stampAbi: string | null;
  npmMarkerMs: number | null;
  abi: string;
}): string | null;
export declare function buildReason(state: { newestInputMs: number; stampMs: number | null }): string | null;
export declare function newestMtime(paths: string[]): number;
export declare function main(command: string): Promise<void>;
