/// Environment variables the daemon sets when it spawns a runner. Nothing secret: the token is
/// one-time and only identifies the spawn; credentials travel in the `job` frame.
public enum RunnerEnvironment {
    public static let socket = "SRE_RUNNER_SOCKET"
    public static let token = "SRE_RUNNER_TOKEN"
    public static let runnerID = "SRE_RUNNER_ID"
    public static let domain = "SRE_RUNNER_DOMAIN"
    public static let maxFrameBytes = "SRE_RUNNER_MAX_FRAME"
    /// For a runner started elsewhere (`socket` is then `tls://HOST:PORT`): the daemon's CA
    /// certificate (PEM, public) that the runner pins, and the name in the daemon's certificate.
    public static let caPEM = "SRE_RUNNER_CA"
    public static let serverName = "SRE_RUNNER_SERVER_NAME"

    public static let all = [socket, token, runnerID, domain, maxFrameBytes, caPEM, serverName]
}
