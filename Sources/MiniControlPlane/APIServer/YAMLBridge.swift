public import KubeAPI
import Yams

/// YAML documents to `JSONValue`, resolving scalars the way Kubernetes' sigs.k8s.io/yaml does
/// (YAML 1.1 core types: null, bools, ints, floats, strings).
public enum YAMLBridge {
    public struct YAMLError: Error, Sendable, CustomStringConvertible {
        public var description: String
    }

    public static func parseAll(_ text: String) throws -> [JSONValue] {
        do {
            var out: [JSONValue] = []
            for node in try Yams.compose_all(yaml: text) {
                out.append(try convert(node))
            }
            return out
        } catch let e as YAMLError {
            throw e
        } catch {
            throw YAMLError(description: "error converting YAML to JSON: \(error)")
        }
    }

    public static func parse(_ text: String) throws -> JSONValue {
        let docs = try parseAll(text)
        return docs.first ?? .null
    }

    static func convert(_ node: Yams.Node) throws -> JSONValue {
        switch node {
        case .scalar(let s):
            if s.style != .plain { return .string(s.string) }
            if node.null != nil { return .null }
            if let b = node.bool { return .bool(b) }
            if let i = node.int { return .int(Int64(i)) }
            if let d = node.float, !s.string.isEmpty,
                s.string.allSatisfy({ $0.isNumber || "+-.eE".contains($0) }) || [".inf", "-.inf", ".nan"].contains(s.string.lowercased())
            {
                return .double(d)
            }
            return .string(s.string)
        case .mapping(let m):
            var o: JSONObject = [:]
            for (k, v) in m {
                guard let key = k.scalar?.string else {
                    throw YAMLError(description: "error converting YAML to JSON: yaml: invalid map key: \(k)")
                }
                o[key] = try convert(v)
            }
            return .object(o)
        case .sequence(let seq):
            return .array(try seq.map(convert))
        case .alias:
            throw YAMLError(description: "error converting YAML to JSON: aliases are not supported")
        }
    }
}
