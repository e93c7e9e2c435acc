/**
 * Commands that live outside main.ts register themselves when their module loads. The CLI loads only the
 * module of the command it runs (`audit` loads scanner.ts, not the demo, the CRS or the password hashing),
 * and every module, in this order, when it has to list them all (`portcullis help`, an unknown command).
 */
const MODULES = {
  demo: () => import('./demo.ts'),
  scanner: () => import('./scanner.ts'),
  key: () => import('./key.ts'),
  password: () => import('./password.ts'),
  crs: () => import('./crs.ts'),
} as const;

/** The module that registers the commands under each first word (`demo` and `demo attack` → demo). */
const BY_FIRST_WORD: Readonly<Record<string, keyof typeof MODULES>> = {
  demo: 'demo',
  audit: 'scanner',
  scan: 'scanner',
  key: 'key',
  password: 'password',
  crs: 'crs',
};

/**
 * Loads the module that registers the command whose first word is `word`; false when no module here
 * registers one (a built-in command of main.ts, or an unknown word).
 */
export async function loadCommandModule(word: string): Promise<boolean> {
  const module = Object.hasOwn(BY_FIRST_WORD, word) ? BY_FIRST_WORD[word] : undefined;
  if (module === undefined) return false;
  await MODULES[module]();
  return true;
}

/** Loads every command module, in the order `portcullis help` lists their commands. */
export async function loadAllCommandModules(): Promise<void> {
  for (const load of Object.values(MODULES)) await load();
}
