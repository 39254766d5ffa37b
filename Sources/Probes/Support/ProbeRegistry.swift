/// Built-in probes by name.
public enum ProbeRegistry {
    public static let builtIn: [String: any Probe] = {
        let probes: [any Probe] = [
            TCPConnectProbe(),
            DNSProbe(),
            DNSRecordProbe(),
            TLSProbe(),
            HTTPProbe(),
            DiskProbe(),
            MemoryProbe(),
            LoadProbe(),
            OOMProbe(),
            JournaldProbe(),
            LogFileProbe(),
            AWSRDSProbe(),
            AWSAlarmsProbe(),
            AWSEC2Probe(),
            AWSTargetsProbe(),
            AWSLogsProbe(),
            KubernetesWorkloadsProbe(),
            KubernetesNodesProbe(),
            KubernetesServicesProbe(),
            KubernetesStorageProbe(),
            KubernetesJobsProbe(),
            KubernetesEventsProbe(),
            MetricsAlertsProbe(),
            MetricsTargetsProbe(),
            MetricsSignalsProbe(),
            PostgresProbe(),
            CommandProbe(),
        ]
        return Dictionary(uniqueKeysWithValues: probes.map { (type(of: $0).name, $0) })
    }()
}
