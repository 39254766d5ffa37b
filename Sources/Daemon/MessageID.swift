/// Journal `MESSAGE_ID`s of notable events (`journalctl MESSAGE_ID=…`). Stable across releases.
public enum MessageID {
    public static let started = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a01"
    public static let stopping = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a02"
    public static let sessionCreated = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a10"
    public static let sessionFinished = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a11"
    public static let approvalRequested = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a20"
    public static let approvalDecided = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a21"
    public static let credentialResolved = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a22"
    public static let runnerFailed = "4f1c0c5b3a0e4d1f9b8a6b5c0e2d7a30"
}
