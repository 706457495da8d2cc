/**
 * The "waiting for sign-in" display of the device flow. On a terminal it is
 * one line redrawn in place with the time left; anywhere else (a log file, a
 * pipe, systemd's journal) a plain line now and then, because carriage
 * returns and escape codes turn a log into noise. Either way the last thing
 * shown is the outcome.
 */
import { DEVICE_LOGIN_PROGRESS_INTERVAL_MS, DEVICE_LOGIN_TTY_REFRESH_MS } from '../limits.ts';

/** Where the updating line goes: stderr, usually. */
export interface StatusStream {
  readonly isTTY?: boolean | undefined;
  write(text: string): unknown;
}

export interface CountdownOptions {
  /** When the code expires (epoch milliseconds). */
  readonly expiresAt: number;
  /** Plain lines, for when there is no terminal. */
  readonly progress: (line: string) => void;
  /** The terminal, if any; without one, or when it is not a TTY, plain lines go to `progress`. */
  readonly stream?: StatusStream | undefined;
  /** Put before the updating line, as `progress` puts it before each plain line. */
  readonly prefix?: string | undefined;
  /** How often a plain line is printed. */
  readonly lineIntervalMs?: number | undefined;
  readonly now?: (() => number) | undefined;
}

export interface Countdown {
  /** Stops the display and shows the outcome (its last line). Later calls do nothing. */
  finish(outcome: string): void;
}

// Carriage return, then "erase the whole line": the new text never leaves the tail of a longer old one.
const REDRAW = '\r\x1b[2K';

/** `9:05 left` on the terminal line. */
export function formatTimeLeft(seconds: number): string {
  const whole = Math.max(0, Math.ceil(seconds));
  return `${Math.floor(whole / 60)}:${String(whole % 60).padStart(2, '0')} left`;
}

/** The plain line: whole minutes, rounded up, so "0 min" never shows while time is left. */
export function waitingLine(seconds: number): string {
  const minutes = Math.max(0, Math.ceil(seconds / 60));
  return minutes >= 1 ? `Still waiting for the sign-in; ${minutes} min left.` : 'Still waiting for the sign-in; the code is about to expire.';
}

export function startCountdown(options: CountdownOptions): Countdown {
  const now = options.now ?? Date.now;
  const secondsLeft = (): number => (options.expiresAt - now()) / 1000;
  const stream = options.stream?.isTTY === true ? options.stream : undefined;
  const prefix = options.prefix ?? '';
  let finished = false;

  const draw = (): void => {
    stream?.write(`${REDRAW}${prefix}Waiting for the sign-in: ${formatTimeLeft(secondsLeft())}`);
  };
  let timer: NodeJS.Timeout;
  if (stream) {
    draw();
    timer = setInterval(draw, DEVICE_LOGIN_TTY_REFRESH_MS);
  } else {
    timer = setInterval(() => options.progress(waitingLine(secondsLeft())), options.lineIntervalMs ?? DEVICE_LOGIN_PROGRESS_INTERVAL_MS);
  }
  // The display must never keep the process alive on its own.
  timer.unref();

  return {
    finish(outcome) {
      if (finished) return;
      finished = true;
      clearInterval(timer);
      if (stream) stream.write(`${REDRAW}${prefix}${outcome}\n`);
      else options.progress(outcome);
    },
  };
}
