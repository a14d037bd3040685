/// Byte-level string helpers for the request path. With Foundation imported, a literal passed
/// to `String.contains(_:)` picks Foundation's overload (CFStringFind through NSString), and
/// `trimmingCharacters(in:)` goes through NSString too: ~1 % of the server's CPU per write
/// between them, measured. HTTP header values are ASCII; these compare UTF-8 bytes.
extension StringProtocol {
    /// Whether `needle` occurs in the string (UTF-8 bytes compared).
    func containsBytes(_ needle: String) -> Bool {
        let h = utf8, n = needle.utf8
        guard let first = n.first else { return true }
        var i = h.startIndex
        while let at = h[i...].firstIndex(of: first) {
            if h[at...].starts(with: n) { return true }
            i = h.index(after: at)
        }
        return false
    }

    /// The string without leading and trailing spaces and tabs (HTTP's optional whitespace).
    func trimmingBlanks() -> SubSequence {
        var s = self[...]
        while let c = s.first, c == " " || c == "\t" { s = s.dropFirst() }
        while let c = s.last, c == " " || c == "\t" { s = s.dropLast() }
        return s
    }
}
