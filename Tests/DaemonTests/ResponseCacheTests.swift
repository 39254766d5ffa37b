@testable import Daemon
import Foundation
import Testing

/// The cache of finished sessions' answers stays within its entry and byte budgets.
@Suite struct ResponseCacheTests {
    static func data(_ bytes: Int) -> Data { Data(repeating: 0x61, count: bytes) }

    @Test func oldestEntriesGoFirstWhenTheByteBudgetIsReached() {
        let cache = ResponseCache(capacity: 100, capacityBytes: 1000)
        for index in 0..<10 { cache.put("k\(index)", Self.data(200)) }
        #expect(cache.usage.bytes <= 1000)
        #expect(cache.usage.entries == 5)
        #expect(cache.get("k4") == nil)
        #expect(cache.get("k5") == Self.data(200))
        #expect(cache.get("k9") == Self.data(200))
    }

    @Test func entryCountIsBoundedToo() {
        let cache = ResponseCache(capacity: 3, capacityBytes: 1 << 20)
        for index in 0..<5 { cache.put("k\(index)", Self.data(10)) }
        #expect(cache.usage.entries == 3)
        #expect(cache.usage.bytes == 30)
        #expect(cache.get("k1") == nil)
        #expect(cache.get("k2") != nil)
    }

    @Test func replacingAnEntryCountsOnlyItsNewSizeAndAnswersTooLargeAreNotKept() {
        let cache = ResponseCache(capacity: 10, capacityBytes: 1000)
        cache.put("a", Self.data(100))
        cache.put("a", Self.data(50))
        #expect(cache.usage.entries == 1)
        #expect(cache.usage.bytes == 50)
        cache.put("huge", Self.data(251))
        #expect(cache.get("huge") == nil)
        #expect(cache.usage.bytes == 50)
    }
}
