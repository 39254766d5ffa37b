import Foundation
import Runner

// Launched by sre-diagnosed, one per (session, domain). See RunnerAgent.
exit(await RunnerAgent.main())
