import Testing
@testable import KubeAPI

// Test vectors for KubeProtobuf.decode: real request bodies captured from kubectl v1.35.2
// (`kubectl create …` pointed at a throwaway 127.0.0.1 listener that saved the POST body),
// each paired with the JSON the same command prints with `--dry-run=client -o json`; plus
// bodies built with the small encoder below for shapes kubectl create never sends.

/// A minimal protobuf encoder for building test bodies.
enum PB {
    static func varint(_ v: UInt64) -> [UInt8] {
        var v = v
        var out: [UInt8] = []
        while v >= 0x80 {
            out.append(UInt8(v & 0x7F) | 0x80)
            v >>= 7
        }
        out.append(UInt8(v))
        return out
    }
    static func key(_ field: Int, _ wire: Int) -> [UInt8] { varint(UInt64(field << 3 | wire)) }
    static func int(_ field: Int, _ v: Int64) -> [UInt8] { key(field, 0) + varint(UInt64(bitPattern: v)) }
    static func bool(_ field: Int, _ v: Bool) -> [UInt8] { int(field, v ? 1 : 0) }
    static func bytes(_ field: Int, _ b: [UInt8]) -> [UInt8] { key(field, 2) + varint(UInt64(b.count)) + b }
    static func str(_ field: Int, _ s: String) -> [UInt8] { bytes(field, Array(s.utf8)) }
    static func msg(_ field: Int, _ parts: [UInt8]...) -> [UInt8] { bytes(field, parts.flatMap { $0 }) }
    static func packed(_ field: Int, _ values: [Int64]) -> [UInt8] {
        bytes(field, values.flatMap { varint(UInt64(bitPattern: $0)) })
    }
    static func mapEntry(_ field: Int, _ k: String, _ value: [UInt8]) -> [UInt8] { msg(field, str(1, k), value) }
    static func envelope(_ apiVersion: String, _ kind: String, _ raw: [UInt8]) -> [UInt8] {
        Array("k8s".utf8) + [0] + msg(1, str(1, apiVersion), str(2, kind)) + bytes(2, raw) + str(3, "") + str(4, "")
    }
}

func hexBytes(_ text: String) -> [UInt8] {
    let digits = text.utf8.compactMap { c -> UInt8? in
        switch c {
        case UInt8(ascii: "0")...UInt8(ascii: "9"): return c - UInt8(ascii: "0")
        case UInt8(ascii: "a")...UInt8(ascii: "f"): return c - UInt8(ascii: "a") + 10
        default: return nil
        }
    }
    return stride(from: 0, to: digits.count - 1, by: 2).map { digits[$0] << 4 | digits[$0 + 1] }
}

struct KubectlVector: Sendable, CustomTestStringConvertible {
    var command: String
    var hex: String
    var json: String
    var testDescription: String { command }
}

let kubectlVectors: [KubectlVector] = [
    KubectlVector(
        command: "kubectl create deployment web --image=busybox --replicas=3 --port=8080",
        hex: """
            6b3873000a150a07617070732f7631120a4465706c6f796d656e7412c4010a260a0377656212001a0764656661756c74
            22002a003200380042005a0a0a036170701203776562128b010803120c0a0a0a0361707012037765621a710a1c0a0012
            001a0022002a003200380042005a0a0a036170701203776562125112330a0762757379626f78120762757379626f782a
            00320b0a00100018903f22002a0042006a007200800100880100900100a201001a00320042004a005200580060006800
            8201008a01009a0100c2010022020a00280038001a0c0800100018002000280038001a002200
            """,
        json: #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},"spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"busybox","image":"busybox","ports":[{"containerPort":8080}],"resources":{}}]}},"strategy":{}},"status":{}}"#
    ),
    KubectlVector(
        command: "kubectl create deployment web --image=busybox --replicas=0",
        hex: """
            6b3873000a150a07617070732f7631120a4465706c6f796d656e7412b6010a260a0377656212001a0764656661756c74
            22002a003200380042005a0a0a036170701203776562127e0800120c0a0a0a0361707012037765621a640a1c0a001200
            1a0022002a003200380042005a0a0a036170701203776562124412260a0762757379626f78120762757379626f782a00
            42006a007200800100880100900100a201001a00320042004a0052005800600068008201008a01009a0100c201002202
            0a00280038001a0c0800100018002000280038001a002200
            """,
        json: #"{"kind":"Deployment","apiVersion":"apps/v1","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},"spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"}},"template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"busybox","image":"busybox","resources":{}}]}},"strategy":{}},"status":{}}"#
    ),
    KubectlVector(
        command: "kubectl create configmap cfg --from-literal=a=1 --from-literal=b=hello",
        hex: """
            6b3873000a0f0a0276311209436f6e6669674d617012300a1a0a0363666712001a0764656661756c7422002a00320038
            00420012060a0161120131120a0a0162120568656c6c6f1a002200
            """,
        json: #"{"kind":"ConfigMap","apiVersion":"v1","metadata":{"name":"cfg","namespace":"default"},"data":{"a":"1","b":"hello"}}"#
    ),
    KubectlVector(
        command: "kubectl create secret generic sec --from-literal=user=admin --from-file=blob (binary)",
        hex: """
            6b3873000a0c0a0276311206536563726574123e0a1a0a0373656312001a0764656661756c7422002a00320038004200
            120f0a04626c6f621207000102ff62696e120d0a0475736572120561646d696e1a001a002200
            """,
        json: #"{"kind":"Secret","apiVersion":"v1","metadata":{"name":"sec","namespace":"default"},"data":{"blob":"AAEC/2Jpbg==","user":"YWRtaW4="}}"#
    ),
    KubectlVector(
        command: "kubectl create service clusterip svc --tcp=80:8080",
        hex: """
            6b3873000a0d0a02763112075365727669636512700a260a0373766312001a0764656661756c7422002a003200380042
            005a0a0a03617070120373766312420a1b0a0738302d38303830120354435018502207080010903f1a002800120a0a03
            61707012037376631a002209436c757374657249503a00420052005a00600068001a020a001a002200
            """,
        json: #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"svc","namespace":"default","labels":{"app":"svc"}},"spec":{"ports":[{"name":"80-8080","protocol":"TCP","port":80,"targetPort":8080}],"selector":{"app":"svc"},"type":"ClusterIP"},"status":{"loadBalancer":{}}}"#
    ),
    KubectlVector(
        command: "kubectl create service nodeport np --tcp=443:https --node-port=30080",
        hex: """
            6b3873000a0d0a02763112075365727669636512750a240a026e7012001a0764656661756c7422002a00320038004200
            5a090a0361707012026e7012490a240a093434332d6874747073120354435018bb03220b080110001a05687474707328
            80eb0112090a0361707012026e701a0022084e6f6465506f72743a00420052005a00600068001a020a001a002200
            """,
        json: #"{"kind":"Service","apiVersion":"v1","metadata":{"name":"np","namespace":"default","labels":{"app":"np"}},"spec":{"ports":[{"name":"443-https","protocol":"TCP","port":443,"targetPort":"https","nodePort":30080}],"selector":{"app":"np"},"type":"NodePort"},"status":{"loadBalancer":{}}}"#
    ),
    KubectlVector(
        command: "kubectl create namespace team-a",
        hex: """
            6b3873000a0f0a02763112094e616d657370616365121e0a160a067465616d2d6112001a0022002a0032003800420012
            001a020a001a002200
            """,
        json: #"{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"team-a"},"spec":{},"status":{}}"#
    ),
    KubectlVector(
        command: "kubectl create serviceaccount robot",
        hex: """
            6b3873000a140a027631120e536572766963654163636f756e74121e0a1c0a05726f626f7412001a0764656661756c74
            22002a003200380042001a002200
            """,
        json: #"{"kind":"ServiceAccount","apiVersion":"v1","metadata":{"name":"robot","namespace":"default"}}"#
    ),
    KubectlVector(
        command: "kubectl create job j1 --image=busybox -- echo hi",
        hex: """
            6b3873000a0f0a0862617463682f763112034a6f62128b010a190a026a3112001a0764656661756c7422002a00320038
            004200126432620a100a0012001a0022002a00320038004200124e122b0a026a31120762757379626f781a046563686f
            1a0268692a0042006a007200800100880100900100a201001a054e65766572320042004a005200580060006800820100
            8a01009a0100c201001a082000280030003a001a002200
            """,
        json: #"{"kind":"Job","apiVersion":"batch/v1","metadata":{"name":"j1","namespace":"default"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"j1","image":"busybox","command":["echo","hi"],"resources":{}}],"restartPolicy":"Never"}}},"status":{}}"#
    ),
    KubectlVector(
        command: "kubectl create cronjob cj --image=busybox --schedule='*/5 * * * *' -- date",
        hex: """
            6b3873000a130a0862617463682f7631120743726f6e4a6f6212ab010a190a02636a12001a0764656661756c7422002a
            00320038004200128b010a0b2a2f35202a202a202a202a1a002a7a0a120a02636a12001a0022002a0032003800420012
            6432620a100a0012001a0022002a00320038004200124e12270a02636a120762757379626f781a04646174652a004200
            6a007200800100880100900100a201001a094f6e4661696c757265320042004a0052005800600068008201008a01009a
            0100c201001a001a002200
            """,
        json: #"{"kind":"CronJob","apiVersion":"batch/v1","metadata":{"name":"cj","namespace":"default"},"spec":{"schedule":"*/5 * * * *","jobTemplate":{"metadata":{"name":"cj"},"spec":{"template":{"metadata":{},"spec":{"containers":[{"name":"cj","image":"busybox","command":["date"],"resources":{}}],"restartPolicy":"OnFailure"}}}}},"status":{}}"#
    ),
    KubectlVector(
        command: "kubectl create priorityclass high --value=1000 --description='high prio' --preemption-policy=Never",
        hex: """
            6b3873000a250a147363686564756c696e672e6b38732e696f2f7631120d5072696f72697479436c617373122d0a140a
            046869676812001a0022002a0032003800420010e8071800220968696768207072696f2a054e657665721a002200
            """,
        json: #"{"kind":"PriorityClass","apiVersion":"scheduling.k8s.io/v1","metadata":{"name":"high"},"value":1000,"description":"high prio","preemptionPolicy":"Never"}"#
    ),
    KubectlVector(
        command: "kubectl create quota q1 --hard=cpu=2,memory=1Gi,pods=10",
        hex: """
            6b3873000a130a027631120d5265736f7572636551756f7461124a0a190a02713112001a0764656661756c7422002a00
            320038004200122b0a0a0a0363707512030a01320a0f0a066d656d6f727912050a033147690a0c0a04706f647312040a
            0231301a001a002200
            """,
        json: #"{"kind":"ResourceQuota","apiVersion":"v1","metadata":{"name":"q1","namespace":"default"},"spec":{"hard":{"cpu":"2","memory":"1Gi","pods":"10"}},"status":{}}"#
    ),
    KubectlVector(
        command: "kubectl create clusterrolebinding crb --clusterrole=view --user=alice --group=devs",
        hex: """
            6b3873000a320a1c726261632e617574686f72697a6174696f6e2e6b38732e696f2f76311212436c7573746572526f6c
            6542696e64696e67129d010a130a0363726212001a0022002a00320038004200122a0a04557365721219726261632e61
            7574686f72697a6174696f6e2e6b38732e696f1a05616c6963652200122a0a0547726f75701219726261632e61757468
            6f72697a6174696f6e2e6b38732e696f1a046465767322001a2e0a19726261632e617574686f72697a6174696f6e2e6b
            38732e696f120b436c7573746572526f6c651a04766965771a002200
            """,
        json: #"{"kind":"ClusterRoleBinding","apiVersion":"rbac.authorization.k8s.io/v1","metadata":{"name":"crb"},"subjects":[{"kind":"User","apiGroup":"rbac.authorization.k8s.io","name":"alice"},{"kind":"Group","apiGroup":"rbac.authorization.k8s.io","name":"devs"}],"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"}}"#
    ),
    KubectlVector(
        command: "kubectl create ingress ing --rule='foo.com/bar*=svc1:8080,tls=my-cert'",
        hex: """
            6b3873000a1f0a146e6574776f726b696e672e6b38732e696f2f76311207496e677265737312660a1a0a03696e671200
            1a0764656661756c7422002a00320038004200124412120a07666f6f2e636f6d12076d792d636572741a2e0a07666f6f
            2e636f6d12230a210a1f0a042f626172120f220d0a047376633112050a0010903f1a065072656669781a020a001a0022
            00
            """,
        json: #"{"kind":"Ingress","apiVersion":"networking.k8s.io/v1","metadata":{"name":"ing","namespace":"default"},"spec":{"tls":[{"hosts":["foo.com"],"secretName":"my-cert"}],"rules":[{"host":"foo.com","http":{"paths":[{"path":"/bar","pathType":"Prefix","backend":{"service":{"name":"svc1","port":{"number":8080}}}}]}}]},"status":{"loadBalancer":{}}}"#
    ),
    KubectlVector(
        command: "kubectl create poddisruptionbudget pdb --selector=app=web --min-available=50%",
        hex: """
            6b3873000a200a09706f6c6963792f76311213506f6444697372757074696f6e42756467657412430a1a0a0370646212
            001a0764656661756c7422002a0032003800420012190a09080110001a03353025120c0a0a0a0361707012037765621a
            0a080018002000280030001a002200
            """,
        json: #"{"kind":"PodDisruptionBudget","apiVersion":"policy/v1","metadata":{"name":"pdb","namespace":"default"},"spec":{"minAvailable":"50%","selector":{"matchLabels":{"app":"web"}}},"status":{"disruptionsAllowed":0,"currentHealthy":0,"desiredHealthy":0,"expectedPods":0}}"#
    ),
    KubectlVector(
        command: "kubectl create token robot --duration=1h --audience=api",
        hex: """
            6b3873000a280a1861757468656e7469636174696f6e2e6b38732e696f2f7631120c546f6b656e526571756573741222
            0a100a0012001a0022002a0032003800420012080a0361706920901c1a040a0012001a002200
            """,
        json: #"{"kind":"TokenRequest","apiVersion":"authentication.k8s.io/v1","metadata":{},"spec":{"audiences":["api"],"expirationSeconds":3600},"status":{"token":"","expirationTimestamp":null}}"#
    ),
]

func decodeError(_ bytes: [UInt8]) -> String? {
    do {
        _ = try KubeProtobuf.decode(bytes)
        return nil
    } catch {
        return error.description
    }
}

@Suite struct KubeProtobufTests {
    @Test(arguments: kubectlVectors)
    func decodesRealKubectlBodies(_ vector: KubectlVector) throws {
        let decoded = try KubeProtobuf.decode(hexBytes(vector.hex))
        let expected = try JSONParser.parse(vector.json)
        #expect(decoded == expected, "\(JSONWriter.string(decoded))")
    }

    @Test func realDeploymentKeepsZeroReplicas() throws {
        let vector = try #require(kubectlVectors.first { $0.command.contains("--replicas=0") })
        let decoded = try KubeProtobuf.decode(hexBytes(vector.hex))
        #expect(decoded.value(at: ["spec", "replicas"]) == .int(0))
        #expect(decoded.value(at: ["spec", "template", "spec", "containers"])?.arrayValue?.count == 1)
    }

    @Test func encodedDeploymentMatchesKubectlCreate() throws {
        let labels = PB.mapEntry(11, "app", PB.str(2, "web"))
        let container = PB.msg(2, PB.str(1, "busybox"), PB.str(2, "busybox"), PB.msg(6, PB.int(3, 8080)), PB.msg(8))
        let raw = PB.msg(1, PB.str(1, "web"), PB.str(3, "default"), PB.msg(8), labels)
            + PB.msg(2,
                PB.int(1, 3),
                PB.msg(2, PB.mapEntry(1, "app", PB.str(2, "web"))),
                PB.msg(3, PB.msg(1, labels), PB.msg(2, container)),
                PB.msg(4, PB.str(1, "RollingUpdate"), PB.msg(2, PB.msg(1, PB.int(1, 1), PB.str(3, "25%")), PB.msg(2, PB.int(1, 1), PB.str(3, "25%")))))
        let decoded = try KubeProtobuf.decode(PB.envelope("apps/v1", "Deployment", raw))
        let expected = try JSONParser.parse(#"""
            {"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"web","namespace":"default","labels":{"app":"web"}},
             "spec":{"replicas":3,"selector":{"matchLabels":{"app":"web"}},
                     "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[{"name":"busybox","image":"busybox","ports":[{"containerPort":8080}],"resources":{}}]}},
                     "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":"25%"}}}}
            """#)
        #expect(decoded == expected, "\(JSONWriter.string(decoded))")
    }

    @Test func configMapDataAndBinaryData() throws {
        let raw = PB.msg(1, PB.str(1, "cfg"))
            + PB.mapEntry(2, "a", PB.str(2, "1")) + PB.mapEntry(2, "b", PB.str(2, "x y"))
            + PB.mapEntry(3, "bin", PB.bytes(2, [0, 1, 2, 0xFF]))
            + PB.bool(4, false)
        let decoded = try KubeProtobuf.decode(PB.envelope("v1", "ConfigMap", raw))
        let expected = try JSONParser.parse(#"""
            {"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"cfg"},"data":{"a":"1","b":"x y"},
             "binaryData":{"bin":"AAEC/w=="},"immutable":false}
            """#)
        #expect(decoded == expected, "\(JSONWriter.string(decoded))")
    }

    @Test func secretBinaryDataIsBase64() throws {
        let raw = PB.msg(1, PB.str(1, "s"))
            + PB.mapEntry(2, "key", PB.bytes(2, Array("secret!".utf8)))
            + PB.mapEntry(2, "raw", PB.bytes(2, [0xDE, 0xAD, 0xBE, 0xEF, 0x00]))
            + PB.mapEntry(4, "plain", PB.str(2, "text"))
            + PB.str(3, "Opaque")
        let decoded = try KubeProtobuf.decode(PB.envelope("v1", "Secret", raw))
        #expect(decoded["data"] == .object(["key": .string("c2VjcmV0IQ=="), "raw": .string("3q2+7wA=")]))
        #expect(decoded["stringData"] == .object(["plain": .string("text")]))
        #expect(decoded["type"] == .string("Opaque"))
    }

    @Test func serviceTargetPortIntAndString() throws {
        let ports = PB.msg(1, PB.str(1, "http"), PB.str(2, "TCP"), PB.int(3, 80), PB.msg(4, PB.int(1, 0), PB.int(2, 8080), PB.str(3, "")), PB.int(5, 0))
            + PB.msg(1, PB.str(1, "https"), PB.str(2, "TCP"), PB.int(3, 443), PB.msg(4, PB.int(1, 1), PB.int(2, 0), PB.str(3, "web-tls")))
        let raw = PB.msg(1, PB.str(1, "svc")) + PB.msg(2, ports, PB.mapEntry(2, "app", PB.str(2, "web")), PB.str(4, "ClusterIP"), PB.str(3, ""))
        let decoded = try KubeProtobuf.decode(PB.envelope("v1", "Service", raw))
        let list = try #require(decoded.value(at: ["spec", "ports"])?.arrayValue)
        #expect(list.count == 2)
        #expect(list[0]["targetPort"] == .int(8080))
        #expect(list[0]["nodePort"] == nil)  // non-pointer omitempty zero
        #expect(list[1]["targetPort"] == .string("web-tls"))
        #expect(decoded.value(at: ["spec", "clusterIP"]) == nil)
        #expect(decoded.value(at: ["spec", "type"]) == .string("ClusterIP"))
    }

    @Test func namespaceWithFinalizersAndTimes() throws {
        // creationTimestamp 2024-05-06T07:08:09Z = 1714979289; managedFields with FieldsV1 JSON.
        let meta = PB.str(1, "team-a") + PB.msg(8, PB.int(1, 1_714_979_289), PB.int(2, 123_456_789))
            + PB.msg(17, PB.str(1, "kubectl"), PB.str(2, "Update"), PB.str(3, "v1"), PB.msg(4, PB.int(1, 0)), PB.str(6, "FieldsV1"),
                     PB.msg(7, PB.str(1, #"{"f:metadata":{"f:labels":{}}}"#)))
            + PB.msg(9)
        let raw = PB.msg(1, meta) + PB.msg(2, PB.str(1, "kubernetes")) + PB.msg(3, PB.str(1, "Active"))
        let decoded = try KubeProtobuf.decode(PB.envelope("v1", "Namespace", raw))
        let expected = try JSONParser.parse(#"""
            {"apiVersion":"v1","kind":"Namespace",
             "metadata":{"name":"team-a","creationTimestamp":"2024-05-06T07:08:09Z","deletionTimestamp":null,
                         "managedFields":[{"manager":"kubectl","operation":"Update","apiVersion":"v1","time":"1970-01-01T00:00:00Z",
                                           "fieldsType":"FieldsV1","fieldsV1":{"f:metadata":{"f:labels":{}}}}]},
             "spec":{"finalizers":["kubernetes"]},"status":{"phase":"Active"}}
            """#)
        #expect(decoded == expected, "\(JSONWriter.string(decoded))")
    }

    @Test func podInlineStructsPackedAndPointerZeros() throws {
        let volumes = PB.msg(1, PB.str(1, "data"), PB.msg(2, PB.msg(1, PB.str(1, "/srv"), PB.str(2, "Directory"))))
            + PB.msg(1, PB.str(1, "cache"), PB.msg(2, PB.msg(2, PB.str(1, ""), PB.msg(2, PB.str(1, "1Gi")))))
            + PB.msg(1, PB.str(1, "cfg"), PB.msg(2, PB.msg(19, PB.msg(1, PB.str(1, "cm")), PB.msg(2, PB.str(1, "a"), PB.str(2, "a.txt")), PB.int(3, 420))))
            + PB.msg(1, PB.str(1, "claim"), PB.msg(2, PB.msg(10, PB.str(1, "pvc-1"), PB.bool(2, false))))
        let probe = PB.msg(10, PB.msg(1, PB.msg(2, PB.str(1, "/healthz"), PB.msg(2, PB.int(1, 1), PB.str(3, "http")))), PB.int(4, 0), PB.int(6, 3))
        let env = PB.msg(7, PB.str(1, "FROM_CM"), PB.str(2, ""), PB.msg(3, PB.msg(3, PB.msg(1, PB.str(1, "cm")), PB.str(2, "k"))))
        let container = PB.msg(2, PB.str(1, "c"), PB.str(2, "nginx"), PB.msg(6, PB.str(1, "http"), PB.int(3, 80)), env, probe,
                               PB.msg(8, PB.mapEntry(1, "cpu", PB.msg(2, PB.str(1, "500m"))), PB.mapEntry(2, "memory", PB.msg(2, PB.str(1, "64Mi")))),
                               PB.msg(15, PB.bool(2, true), PB.int(4, -1), PB.msg(1, PB.str(1, "NET_ADMIN"), PB.str(2, "ALL"))))
        let spec = PB.msg(2, volumes, container, PB.str(3, "Always"), PB.bool(11, false),
                          PB.msg(14, PB.int(2, 0), PB.packed(4, [1000, 2000])),
                          PB.msg(22, PB.str(1, "node.kubernetes.io/not-ready"), PB.str(2, "Exists"), PB.str(4, "NoExecute"), PB.int(5, 300)),
                          PB.msg(33, PB.int(1, 1), PB.str(2, "zone"), PB.str(3, "DoNotSchedule"), PB.msg(4, PB.msg(2, PB.str(1, "tier"), PB.str(2, "In"), PB.str(3, "web")))))
        let raw = PB.msg(1, PB.str(1, "p"), PB.str(3, "default")) + spec
        let decoded = try KubeProtobuf.decode(PB.envelope("v1", "Pod", raw))
        let expected = try JSONParser.parse(#"""
            {"apiVersion":"v1","kind":"Pod","metadata":{"name":"p","namespace":"default"},
             "spec":{"volumes":[{"name":"data","hostPath":{"path":"/srv","type":"Directory"}},
                                {"name":"cache","emptyDir":{"sizeLimit":"1Gi"}},
                                {"name":"cfg","configMap":{"name":"cm","items":[{"key":"a","path":"a.txt"}],"defaultMode":420}},
                                {"name":"claim","persistentVolumeClaim":{"claimName":"pvc-1"}}],
                     "containers":[{"name":"c","image":"nginx","ports":[{"name":"http","containerPort":80}],
                                    "env":[{"name":"FROM_CM","valueFrom":{"configMapKeyRef":{"name":"cm","key":"k"}}}],
                                    "livenessProbe":{"httpGet":{"path":"/healthz","port":"http"},"failureThreshold":3},
                                    "resources":{"limits":{"cpu":"500m"},"requests":{"memory":"64Mi"}},
                                    "securityContext":{"privileged":true,"runAsUser":-1,"capabilities":{"add":["NET_ADMIN"],"drop":["ALL"]}}}],
                     "restartPolicy":"Always",
                     "securityContext":{"runAsUser":0,"supplementalGroups":[1000,2000]},
                     "tolerations":[{"key":"node.kubernetes.io/not-ready","operator":"Exists","effect":"NoExecute","tolerationSeconds":300}],
                     "topologySpreadConstraints":[{"maxSkew":1,"topologyKey":"zone","whenUnsatisfiable":"DoNotSchedule",
                                                   "labelSelector":{"matchExpressions":[{"key":"tier","operator":"In","values":["web"]}]}}]}}
            """#)
        #expect(decoded == expected, "\(JSONWriter.string(decoded))")
    }

    @Test func leaseMicroTimes() throws {
        // 2024-05-06T07:08:09.123456789Z → truncated to microseconds.
        let spec = PB.str(1, "node-1") + PB.int(2, 40) + PB.msg(3, PB.int(1, 1_714_979_289), PB.int(2, 123_456_789))
            + PB.msg(4, PB.int(1, 1_714_979_290)) + PB.int(5, 0)
        let decoded = try KubeProtobuf.decode(PB.envelope("coordination.k8s.io/v1", "Lease", PB.msg(1, PB.str(1, "node-1")) + PB.msg(2, spec)))
        #expect(decoded["spec"] == .object([
            "holderIdentity": .string("node-1"), "leaseDurationSeconds": .int(40),
            "acquireTime": .string("2024-05-06T07:08:09.123456Z"), "renewTime": .string("2024-05-06T07:08:10.000000Z"),
            "leaseTransitions": .int(0),
        ]))
    }

    @Test func unpackedAndPackedRepeatedScalarsAgree() throws {
        let unpacked = PB.msg(1, PB.str(1, "p")) + PB.msg(2, PB.msg(14, PB.int(4, 5), PB.int(4, 6)))
        let packed = PB.msg(1, PB.str(1, "p")) + PB.msg(2, PB.msg(14, PB.packed(4, [5, 6])))
        let a = try KubeProtobuf.decode(PB.envelope("v1", "Pod", unpacked))
        let b = try KubeProtobuf.decode(PB.envelope("v1", "Pod", packed))
        #expect(a == b)
        #expect(a.value(at: ["spec", "securityContext", "supplementalGroups"]) == .array([.int(5), .int(6)]))
    }

    @Test func formatsTimesDurationsAndBase64() {
        #expect(KubeProtobuf.formatRFC3339(seconds: 0, micros: nil) == "1970-01-01T00:00:00Z")
        #expect(KubeProtobuf.formatRFC3339(seconds: 1_136_214_245, micros: nil) == "2006-01-02T15:04:05Z")
        #expect(KubeProtobuf.formatRFC3339(seconds: 951_782_400, micros: 7) == "2000-02-29T00:00:00.000007Z")
        #expect(KubeProtobuf.formatRFC3339(seconds: -1, micros: nil) == "1969-12-31T23:59:59Z")
        #expect(KubeProtobuf.formatRFC3339(seconds: 253_402_300_799, micros: nil) == "9999-12-31T23:59:59Z")
        #expect(KubeProtobuf.formatGoDuration(0) == "0s")
        #expect(KubeProtobuf.formatGoDuration(1_500) == "1.5µs")
        #expect(KubeProtobuf.formatGoDuration(2_000_000) == "2ms")
        #expect(KubeProtobuf.formatGoDuration(90_000_000_000) == "1m30s")
        #expect(KubeProtobuf.formatGoDuration(3_600_000_000_000) == "1h0m0s")
        #expect(KubeProtobuf.formatGoDuration(3_723_500_000_000) == "1h2m3.5s")
        #expect(KubeProtobuf.formatGoDuration(-5_000_000_000) == "-5s")
        #expect(KubeProtobuf.base64([]) == "")
        #expect(KubeProtobuf.base64([0x66]) == "Zg==")
        #expect(KubeProtobuf.base64([0x66, 0x6F]) == "Zm8=")
        #expect(KubeProtobuf.base64(Array("foobar".utf8)[...]) == "Zm9vYmFy")
    }

    @Test func schemaTableIsConsistent() throws {
        let schema = try KubeProtobuf.loadedSchema()
        #expect(schema.messages.count > 250)
        for (apiVersion, kind) in [("v1", "Pod"), ("v1", "Endpoints"), ("apps/v1", "StatefulSet"), ("apps/v1", "DaemonSet"),
                                   ("apps/v1", "ReplicaSet"), ("discovery.k8s.io/v1", "EndpointSlice"), ("coordination.k8s.io/v1", "Lease"),
                                   ("batch/v1", "CronJob"), ("scheduling.k8s.io/v1", "PriorityClass"), ("policy/v1", "Eviction")] {
            #expect(KubeProtobuf.supports(apiVersion: apiVersion, kind: kind), "\(apiVersion) \(kind)")
        }
        #expect(!KubeProtobuf.supports(apiVersion: "apps/v1", kind: "Pod"))
        // Spot checks of numbers that are easy to get wrong.
        #expect(schema.messages["ObjectMeta"]?.fields[17]?.name == "managedFields")
        #expect(schema.messages["PodSpec"]?.fields[33]?.name == "topologySpreadConstraints")
        #expect(schema.messages["ServiceSpec"]?.fields[18]?.name == "clusterIPs")
        #expect(schema.messages["discovery.EndpointPort"]?.fields[3]?.name == "port")
        #expect(schema.messages["Volume"]?.fields[2]?.inline == true)
    }

    @Test func rejectsBadMagic() {
        let message = decodeError(Array("{\"kind\":\"Pod\"}".utf8))
        #expect(message?.contains("bad magic") == true, "\(message ?? "no error")")
        #expect(decodeError([0x6B, 0x38]).map { $0.contains("bad magic") } == true)
    }

    @Test func rejectsTruncatedBodies() throws {
        let vector = try #require(kubectlVectors.first)
        let full = hexBytes(vector.hex)
        // Cut inside a length-delimited value.
        let cut = decodeError(Array(full.prefix(full.count - 5)))
        #expect(cut?.contains("truncated") == true, "\(cut ?? "no error")")
        // Cut inside a varint (a length prefix 0xC4 0x01 split after its first byte).
        let varint = decodeError(Array("k8s".utf8) + [0, 0x12, 0xC4])
        #expect(varint?.contains("truncated varint") == true, "\(varint ?? "no error")")
    }

    @Test func rejectsUnknownKind() {
        let message = decodeError(PB.envelope("apps/v1", "Frobnicator", PB.msg(1, PB.str(1, "x"))))
        #expect(message == #"protobuf: unknown kind "Frobnicator" in "apps/v1""#)
    }

    @Test func rejectsUnknownFieldNumbers() {
        let top = decodeError(PB.envelope("v1", "ConfigMap", PB.msg(1, PB.str(1, "x")) + PB.str(99, "?")))
        #expect(top == "protobuf: unknown field number 99 in message ConfigMap")
        let nested = decodeError(PB.envelope("apps/v1", "Deployment", PB.msg(2, PB.msg(4, PB.int(7, 1)))))
        #expect(nested == "protobuf: unknown field number 7 in message DeploymentStrategy")
        let wellKnown = decodeError(PB.envelope("v1", "Namespace", PB.msg(1, PB.msg(8, PB.int(3, 1)))))
        #expect(wellKnown == "protobuf: unknown field number 3 in message meta.v1.Time")
        let envelope = decodeError(Array("k8s".utf8) + [0] + PB.str(9, "x"))
        #expect(envelope == "protobuf: unknown field number 9 in message runtime.Unknown")
    }

    @Test func rejectsWrongWireTypeAndEncodings() {
        let wire = decodeError(PB.envelope("v1", "ConfigMap", PB.int(1, 5)))
        #expect(wire?.contains("field 1 (metadata) of message ConfigMap has wire type varint") == true, "\(wire ?? "no error")")
        var gz = Array("k8s".utf8) + [0] + PB.msg(1, PB.str(1, "v1"), PB.str(2, "ConfigMap")) + PB.bytes(2, [])
        gz += PB.str(3, "gzip")
        #expect(decodeError(gz)?.contains("contentEncoding") == true)
    }
}
