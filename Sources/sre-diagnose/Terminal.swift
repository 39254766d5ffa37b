import DiagnosisModel
import Foundation

/// What the terminal can do: colour only on a TTY, never with `NO_COLOR` or `TERM=dumb`.
struct Terminal {
    let isTTY: Bool
    let colour: Bool
    let width: Int

    static func current(environment: [String: String] = ProcessInfo.processInfo.environment) -> Terminal {
        let tty = isatty(STDOUT_FILENO) == 1
        let noColour = environment["NO_COLOR"].map { !$0.isEmpty } ?? false
        var size = winsize()
        let columns = tty && ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0 && size.ws_col > 0 ? Int(size.ws_col) : 100
        return Terminal(isTTY: tty, colour: tty && !noColour && environment["TERM"] != "dumb", width: max(40, columns))
    }

    /// Whether standard input is a terminal a person can answer prompts on.
    static var canPrompt: Bool { isatty(STDIN_FILENO) == 1 }

    enum Style: String {
        case bold = "1", dim = "2", red = "31", green = "32", yellow = "33", blue = "34", magenta = "35", cyan = "36", boldRed = "1;31"
    }

    func paint(_ text: String, _ style: Style) -> String {
        colour ? "\u{1B}[\(style.rawValue)m\(text)\u{1B}[0m" : text
    }

    func severity(_ severity: Severity) -> String {
        let label = severity.rawValue.uppercased()
        switch severity {
        case .critical: return paint(label, .boldRed)
        case .high: return paint(label, .red)
        case .medium: return paint(label, .yellow)
        case .low: return paint(label, .cyan)
        case .info: return paint(label, .blue)
        case .ok: return paint(label, .green)
        }
    }

    /// `[#########.........]  45%`
    func bar(_ fraction: Double, width: Int = 20) -> String {
        let clamped = min(1, max(0, fraction))
        let filled = Int((clamped * Double(width)).rounded())
        let text = String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled)
        return "[\(paint(text, clamped >= 1 ? .green : .cyan))] \(String(format: "%3d%%", Int((clamped * 100).rounded())))"
    }
}

/// Writes to standard error (messages that are not the command's output).
func printError(_ text: String) {
    FileHandle.standardError.write(Data((text + "\n").utf8))
}

/// Standard output, flushed per call: a live view must reach the terminal (or a pipe) at once.
func output(_ text: String, terminator: String = "\n") {
    FileHandle.standardOutput.write(Data((text + terminator).utf8))
}
