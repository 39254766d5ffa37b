import ArgumentParser
import DiagnosisModel
import Foundation

@main
struct SREDiagnose: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "sre-diagnose",
        abstract: "Diagnose infrastructure incidents with sre-diagnosed.",
        version: ProductInfo.version,
        subcommands: []
    )
}
