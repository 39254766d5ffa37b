import Foundation
import Redaction
import Testing

@Suite struct RedactorTests {
    @Test func redactsRawAndEncodedForms() {
        let secret = "pa ss/word+\"42\""
        let redactor = Redactor(secrets: ["op://v/db/password": [secret]])
        let unreserved = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
        let base64 = Data(secret.utf8).base64EncodedString()
        let forms = [
            secret, base64, base64.replacingOccurrences(of: "=", with: ""),
            secret.addingPercentEncoding(withAllowedCharacters: unreserved) ?? "",
            #"pa ss/word+\"42\""#, #"pa ss\/word+\"42\""#,
        ]
        for form in forms {
            let text = "before \(form) after"
            let redacted = redactor.redact(text)
            #expect(redacted == "before [REDACTED:op://v/db/password] after", "\(form) → \(redacted)")
            #expect(redactor.containsSecret(text))
        }
        #expect(!redactor.containsSecret("nothing to see"))
    }

    @Test func shortValuesAreNotMatchedAndMultilineSecretsAreRedactedLineByLine() {
        var redactor = Redactor()
        redactor.add("abc", reference: "env://SHORT")
        #expect(redactor.isEmpty)
        let kubeconfig = "apiVersion: v1\nusers:\n- user:\n    token: eyJhbGciOiJSUzI1NiJ9.sometokenvalue\n"
        redactor.add(kubeconfig, reference: "op://k/config")
        #expect(!redactor.redact("error near token: eyJhbGciOiJSUzI1NiJ9.sometokenvalue").contains("eyJhbGciOiJSUzI1NiJ9"))
    }
}
