/**
 * The Core Rule Set engine (issue 17): load a CRS rule directory once, evaluate requests in our own code.
 */
export type { EngineOptions } from './engine/compile.ts';
export {
  compileSecLang,
  type LoadedRuleSet,
  loadCoreRuleSet,
  RuleSetLoadError,
  readUnicodeMapFile,
} from './load.ts';
export type {
  CompiledRuleSet,
  CrsSettings,
  RuleLoadIssue,
  WafExclusions,
  WafMatch,
  WafRequest,
  WafVerdict,
} from './types.ts';
