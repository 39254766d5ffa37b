extension Duration {
    /// Milliseconds with one decimal (timings and evidence).
    public var milliseconds: Double {
        ((Double(components.seconds) * 1000 + Double(components.attoseconds) / 1e15) * 10).rounded() / 10
    }

    /// Seconds as a `Double` (for `Date` arithmetic and rates).
    public var inSeconds: Double { Double(components.seconds) + Double(components.attoseconds) / 1e18 }
}
