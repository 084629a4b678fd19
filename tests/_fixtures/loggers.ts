// A logger that records lines instead of printing them, for asserting on what was logged.

import type { Logger } from "@logtape/logtape";

/** One recorded log line. */
export interface LogLine {
  level: "trace" | "debug" | "info" | "warning" | "error" | "fatal";
  message: string;
  properties: Record<string, unknown> | undefined;
}

/** A LogTape-shaped logger keeping every line in `lines`. */
export function recordingLogger(): Logger & {
  lines: LogLine[];
  messages(level?: LogLine["level"]): string[];
} {
  const lines: LogLine[] = [];
  const at = (level: LogLine["level"]) => (message: unknown, properties?: unknown) => {
    lines.push({
      level,
      message: String(message),
      properties: typeof properties === "object" && properties !== null
        ? properties as Record<string, unknown>
        : undefined,
    });
  };
  const logger = {
    lines,
    messages: (level?: LogLine["level"]) =>
      lines.filter((l) => !level || l.level === level).map((l) => l.message),
    trace: at("trace"),
    debug: at("debug"),
    info: at("info"),
    warn: at("warning"),
    warning: at("warning"),
    error: at("error"),
    fatal: at("fatal"),
    getChild: () => logger,
    with: () => logger,
  };
  return logger as unknown as Logger & {
    lines: LogLine[];
    messages(level?: LogLine["level"]): string[];
  };
}
