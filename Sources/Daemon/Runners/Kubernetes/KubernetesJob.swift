/// The `batch/v1` Job that runs one runner: the fields the launcher sets, typed.
struct KubernetesJob: Codable, Sendable, Equatable {
    var apiVersion = "batch/v1"
    var kind = "Job"
    var metadata: Metadata
    var spec: Spec

    struct Metadata: Codable, Sendable, Equatable {
        var name: String
        var namespace: String
        var labels: [String: String]
    }

    struct Spec: Codable, Sendable, Equatable {
        /// One attempt: a runner that fails is reported, not retried with the same token.
        var backoffLimit = 0
        var activeDeadlineSeconds: Int
        var ttlSecondsAfterFinished: Int
        var template: Template
    }

    struct Template: Codable, Sendable, Equatable {
        var metadata: TemplateMetadata
        var spec: PodSpec
    }

    struct TemplateMetadata: Codable, Sendable, Equatable {
        var labels: [String: String]
    }

    struct PodSpec: Codable, Sendable, Equatable {
        var restartPolicy = "Never"
        var serviceAccountName: String?
        /// The runner needs no API access of its own.
        var automountServiceAccountToken = false
        var containers: [Container]
    }

    struct Container: Codable, Sendable, Equatable {
        var name = "runner"
        var image: String
        var command: [String]
        var args: [String]
        var env: [EnvVar]
        var resources: Resources
        var securityContext = SecurityContext()
    }

    struct EnvVar: Codable, Sendable, Equatable {
        var name: String
        var value: String
    }

    struct Resources: Codable, Sendable, Equatable {
        var requests: [String: String]
        var limits: [String: String]
    }

    struct SecurityContext: Codable, Sendable, Equatable {
        var runAsNonRoot = true
        /// The image's user (deploy/kubernetes/Containerfile), numeric so runAsNonRoot is checkable.
        var runAsUser = 10001
        var allowPrivilegeEscalation = false
        var readOnlyRootFilesystem = true
        var capabilities = Capabilities()

        struct Capabilities: Codable, Sendable, Equatable {
            var drop = ["ALL"]
        }
    }
}
