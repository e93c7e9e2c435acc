export type { StateStore } from '../core/store.ts';
