// swift-tools-version:6.1
// swiftlet: a Kubernetes node agent and compact control plane in Swift.
// Module graph (arrows are allowed imports, see README "Layout"):
//   swiftlet → MiniControlPlane, NodeAgent, ProxyNFT, KubeAPI
//   NodeAgent → PLEG, Runtime, CNI, CSI, DevicePlugins, KubeAPI
//   PLEG → Runtime
//   C only in CShim (clone/setns/exec helpers) and the CLinux module maps.
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny"),
    .enableUpcomingFeature("InternalImportsByDefault"),
]

// pause and swiftlet-shim are exec'd for every container, so they are static C programs on
// musl: glibc's start-up asks CPUID for the cache sizes ~80 times, and in a VM every CPUID is
// a trap to the hypervisor (~9 µs on the machines we measure on): 0.8 ms of CPU per exec,
// where musl's start-up takes 0.04 ms. SwiftPM links through swiftc, which adds the Swift
// runtime's image registration (swiftrt.o); both link the NoSwiftRuntime target, which defines
// the two symbols that needs, so nothing of the Swift runtime is linked in. Linux's own
// headers (linux/, asm/) come after musl's.
#if arch(x86_64)
let muslTriple = "x86_64-linux-musl", gnuTriple = "x86_64-linux-gnu"
#else
let muslTriple = "aarch64-linux-musl", gnuTriple = "aarch64-linux-gnu"
#endif
let muslC: [CSetting] = [.unsafeFlags([
    "-nostdlibinc", "-isystem", "/usr/include/\(muslTriple)",
    "-idirafter", "/usr/include/\(gnuTriple)", "-idirafter", "/usr/include",
])]
let muslLink: [LinkerSetting] = [.unsafeFlags([
    "-static-stdlib", "-Xclang-linker", "-static", "-Xclang-linker", "-nostdlib",
    "-Xlinker", "/usr/lib/\(muslTriple)/crt1.o", "-Xlinker", "/usr/lib/\(muslTriple)/libc.a",
])]

let package = Package(
    name: "swiftlet",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "swiftlet", targets: ["swiftlet"]),
        .executable(name: "swiftlet-cni", targets: ["swiftlet-cni"]),
        .executable(name: "pause", targets: ["pause"]),
    ],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-websocket.git", from: "2.8.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-nio.git", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-http2.git", from: "1.46.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", "3.12.3"..<"5.0.0"),
        .package(url: "https://github.com/groue/GRDB.swift.git", from: "7.10.0"),
        .package(url: "https://github.com/jpsim/Yams.git", from: "6.2.0"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.6.0"),
        .package(url: "https://github.com/HdrHistogram/hdrhistogram-swift.git", from: "0.2.0"),
    ],
    targets: [
        // MARK: C
        .target(name: "CShim", path: "Sources/CShim"),
        .systemLibrary(name: "CMnl", path: "Sources/CLinux/CMnl", pkgConfig: "libmnl"),
        .systemLibrary(name: "CNftnl", path: "Sources/CLinux/CNftnl", pkgConfig: "libnftnl"),
        .systemLibrary(name: "CSeccomp", path: "Sources/CLinux/CSeccomp", pkgConfig: "libseccomp"),
        .systemLibrary(name: "CCap", path: "Sources/CLinux/CCap", pkgConfig: "libcap"),
        .systemLibrary(name: "CZlib", path: "Sources/CLinux/CZlib", pkgConfig: "zlib"),
        .target(name: "NoSwiftRuntime", path: "Sources/CLinux/NoSwiftRuntime", cSettings: muslC),
        .executableTarget(name: "pause", dependencies: ["NoSwiftRuntime"], path: "Sources/pause", cSettings: muslC, linkerSettings: muslLink),
        .executableTarget(name: "swiftlet-shim", dependencies: ["NoSwiftRuntime"], path: "Sources/swiftlet-shim", cSettings: muslC,
                          linkerSettings: muslLink),

        // MARK: shared API types, codecs, client
        .target(
            name: "KubeAPI",
            dependencies: [
                "CZlib",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
                .product(name: "Logging", package: "swift-log"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: control plane
        .target(
            name: "MiniControlPlane",
            dependencies: [
                "KubeAPI",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "HummingbirdWSClient", package: "hummingbird-websocket"),
                .product(name: "GRDB", package: "GRDB.swift"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            swiftSettings: swiftSettings
        ),

        // MARK: node
        .target(
            name: "Runtime",
            dependencies: ["CShim", "CSeccomp", "CCap", .product(name: "AsyncHTTPClient", package: "async-http-client")],
            swiftSettings: swiftSettings
        ),
        .target(name: "PLEG", dependencies: ["Runtime"], swiftSettings: swiftSettings),
        .target(name: "CNI", dependencies: ["CMnl", "CNftnl", "CShim"], swiftSettings: swiftSettings),
        .target(name: "CSI", swiftSettings: swiftSettings),
        .target(name: "DevicePlugins", swiftSettings: swiftSettings),
        .target(
            name: "NodeAgent",
            dependencies: [
                "KubeAPI", "PLEG", "Runtime", "CNI", "CSI", "DevicePlugins", "CShim",
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOPosix", package: "swift-nio"),
                .product(name: "NIOHTTP2", package: "swift-nio-http2"),
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdWebSocket", package: "hummingbird-websocket"),
                .product(name: "Yams", package: "Yams"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(name: "ProxyNFT", dependencies: ["KubeAPI", "CMnl", "CNftnl"], exclude: ["README.md"], swiftSettings: swiftSettings),

        // MARK: executables
        .executableTarget(
            name: "swiftlet",
            dependencies: [
                "KubeAPI", "MiniControlPlane", "NodeAgent", "ProxyNFT", "Runtime",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings,
            // lld with packed relative relocations and no exported symbols: the loader's tables
            // shrink from ~6 MB to ~60 KB, pages every process kept resident. The agent's
            // functions first (scripts/order-agent-code.sh), so its code is resident in few
            // 64 KiB runs (README).
            linkerSettings: [.unsafeFlags(["-static-stdlib", "-use-ld=lld", "-Xlinker", "-z", "-Xlinker", "pack-relative-relocs",
                                           "-Xlinker", "--no-export-dynamic",
                                           "-Xlinker", "--symbol-ordering-file=\(Context.packageDirectory)/scripts/swiftlet.order",
                                           "-Xlinker", "--no-warn-symbol-ordering", "-Xlinker", "--start-group",
                                           "-Xlinker", "-lFoundation", "-Xlinker", "-lCoreFoundation",
                                           "-Xlinker", "-lFoundationInternationalization", "-Xlinker", "-l_FoundationICU",
                                           "-Xlinker", "-lFoundationEssentials", "-Xlinker", "-l_FoundationCollections",
                                           "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lswiftSynchronization",
                                           "-Xlinker", "-lswiftDispatch", "-Xlinker", "-ldispatch", "-Xlinker", "-lBlocksRuntime",
                                           "-Xlinker", "--end-group"])]
        ),
        // Static Swift runtime and FoundationEssentials only (no Foundation, CoreFoundation or
        // ICU: CNIJSON replaces JSONSerialization): a CNI plugin is exec'd for every ADD/DEL, so
        // process start-up is much of its latency; loading the shared Foundation and ICU
        // libraries alone cost ~25 ms per exec, and linking them statically still ~1 ms. Not
        // position independent: the loader then has no relocations to apply to its data.
        .executableTarget(name: "swiftlet-cni", dependencies: ["CNI"], swiftSettings: swiftSettings,
                          linkerSettings: [.unsafeFlags(["-static-stdlib", "-Xclang-linker", "-no-pie", "-Xlinker", "--start-group",
                                                          "-Xlinker", "-lFoundationEssentials", "-Xlinker", "-l_FoundationCollections",
                                                          "-Xlinker", "-l_FoundationCShims", "-Xlinker", "-lswiftSynchronization",
                                                          "-Xlinker", "--end-group"])]),
        .executableTarget(
            name: "swiftlet-bench",
            dependencies: [
                "KubeAPI", "MiniControlPlane", "Runtime", "ProxyNFT", "CNI", "CShim", "TestSupport",
                .product(name: "Histogram", package: "hdrhistogram-swift"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Benchmarks/swiftlet-bench",
            swiftSettings: swiftSettings
        ),

        // MARK: tests
        .target(name: "TestSupport", dependencies: ["Runtime"], path: "integration/TestSupport", swiftSettings: swiftSettings),
        // The payload of the cgroup v2 VM test (scripts/vm/cgroup2-check.sh, run by
        // RuntimeIntegrationTests): built with the tests, never shipped (no product).
        .executableTarget(
            name: "swiftlet-cgroup2-check",
            dependencies: ["Runtime", "TestSupport"],
            path: "integration/Cgroup2VM",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "KubeAPITests",
            dependencies: ["KubeAPI", .product(name: "NIOCore", package: "swift-nio"), .product(name: "NIOPosix", package: "swift-nio")],
            swiftSettings: swiftSettings
        ),
        .testTarget(name: "MiniControlPlaneTests", dependencies: ["MiniControlPlane", "KubeAPI", .product(name: "GRDB", package: "GRDB.swift")], swiftSettings: swiftSettings),
        .testTarget(name: "CNITests", dependencies: ["CNI"], swiftSettings: swiftSettings),
        .testTarget(name: "RuntimeTests", dependencies: ["Runtime"], swiftSettings: swiftSettings),
        .testTarget(name: "NodeAgentTests", dependencies: ["NodeAgent", "PLEG", "Runtime", "CNI", "KubeAPI"], swiftSettings: swiftSettings),
        .testTarget(name: "ProxyNFTTests", dependencies: ["ProxyNFT", "CShim", "CMnl", "CNftnl", "KubeAPI"], swiftSettings: swiftSettings),
        .testTarget(
            name: "APIServerIntegrationTests",
            dependencies: ["TestSupport", "KubeAPI"],
            path: "integration/APIServer",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "ControllerIntegrationTests",
            dependencies: ["TestSupport", "KubeAPI"],
            path: "integration/Controllers",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "CNIIntegrationTests",
            dependencies: ["TestSupport", "CNI"],
            path: "integration/CNI",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "NodeAgentIntegrationTests",
            dependencies: ["TestSupport", "KubeAPI", "Runtime", "PLEG"],
            path: "integration/NodeAgent",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "SchedulerIntegrationTests",
            dependencies: ["TestSupport"],
            path: "integration/Scheduler",
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RuntimeIntegrationTests",
            dependencies: ["TestSupport", "Runtime"],
            path: "integration/Runtime",
            swiftSettings: swiftSettings
        ),
    ]
)
