/**
 * Commands that live outside main.ts register themselves here (one import each), so main.ts stays the
 * one table of the CLI.
 */
import './demo.ts';
import './scanner.ts';
import './key.ts';
import './password.ts';
import './crs.ts';
