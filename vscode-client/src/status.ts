// The status bar's state: idle / thinking / disabled / error, the model's name and the last latency.

export type State = "starting" | "idle" | "thinking" | "disabled" | "error";

export class Status {
  state: State = "starting";
  model = "";
  lastLatencyMs: number | undefined;
  error = "";
  private inflight = 0;
  private enabled = true;

  started(model: string): void {
    this.model = model;
    this.error = "";
    this.state = this.enabled ? "idle" : "disabled";
  }

  begin(): void {
    this.inflight += 1;
    if (this.enabled && this.state !== "error") {
      this.state = "thinking";
    }
  }

  end(latencyMs: number): void {
    this.inflight = Math.max(0, this.inflight - 1);
    this.lastLatencyMs = Math.round(latencyMs);
    if (this.inflight === 0 && this.state === "thinking") {
      this.state = "idle";
    }
  }

  setEnabled(enabled: boolean): void {
    this.enabled = enabled;
    if (this.state !== "error" && this.state !== "starting") {
      this.state = enabled ? (this.inflight > 0 ? "thinking" : "idle") : "disabled";
    }
  }

  fail(message: string): void {
    this.state = "error";
    this.error = message;
  }

  text(): string {
    const icon = { starting: "$(loading~spin)", idle: "$(sparkle)", thinking: "$(sync~spin)",
      disabled: "$(circle-slash)", error: "$(error)" }[this.state];
    const latency = this.lastLatencyMs !== undefined && this.state === "idle" ? ` ${this.lastLatencyMs} ms` : "";
    return `${icon} codeward${latency}`;
  }

  tooltip(): string {
    const parts = [`codeward: ${this.state}`];
    if (this.model) {
      parts.push(`model: ${this.model}`);
    }
    if (this.lastLatencyMs !== undefined) {
      parts.push(`last suggestion: ${this.lastLatencyMs} ms`);
    }
    if (this.error) {
      parts.push(this.error);
    }
    return parts.join("\n");
  }
}
