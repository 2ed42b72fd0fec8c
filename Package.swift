// swift-tools-version:6.0
//
// A CPU deep-learning library for Linux over OpenBLAS/LAPACKE, with reverse-mode
// autodiff, and the pix2pix conditional GAN built on top of it.
// Module stack (each imports only modules to its right; Pix2Pix and Imaging are siblings):
//   Maps -> MapsCore (Examples/Maps) -> Pix2Pix, Imaging -> DeepLearning -> COpenBLAS, CKernels, CDeflate
//   Imaging -> CImageCodecs (libjpeg-turbo, libpng)
//   Digits -> DigitsCore (Examples/Digits) -> DeepLearning, CDeflate
// Docs/Design.md explains the stack and the decisions behind it.
// No unsafeFlags anywhere: this package must stay importable by other packages.
import PackageDescription

let package = Package(
    name: "DeepLearning",
    products: [
        .library(name: "DeepLearning", targets: ["DeepLearning"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Pix2Pix", targets: ["Pix2Pix"]),
        .executable(name: "maps", targets: ["Maps"]),
        .executable(name: "digits", targets: ["Digits"]),
    ],
    dependencies: [
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0"),
        // Documentation only (`swift package generate-documentation`); nothing links it.
        .package(url: "https://github.com/swiftlang/swift-docc-plugin", from: "1.4.0"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .systemLibrary(name: "CDeflate", pkgConfig: "zlib", providers: [.apt(["zlib1g-dev"])]),
        // Vectorised C kernels for the thin products OpenBLAS streams slowly (SkinnyProduct.swift).
        .target(name: "CKernels"),
        .target(
            name: "DeepLearning",
            dependencies: [
                "COpenBLAS", "CDeflate", "CKernels", .product(name: "ZIPFoundation", package: "ZIPFoundation"),
            ]
        ),
        .target(name: "Pix2Pix", dependencies: ["DeepLearning"]),
        .target(
            name: "MapsCore",
            dependencies: [
                "DeepLearning", "Imaging", "Pix2Pix",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/Maps/Core"
        ),
        .executableTarget(name: "Maps", dependencies: ["MapsCore"], path: "Examples/Maps/CLI"),
        .target(
            name: "DigitsCore",
            dependencies: [
                "DeepLearning", "CDeflate", .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            path: "Examples/Digits/Core",
            exclude: ["Data/README.md"],
            resources: [.copy("Data/digits.csv.gz")]
        ),
        .executableTarget(name: "Digits", dependencies: ["DigitsCore"], path: "Examples/Digits/CLI"),
        .executableTarget(
            name: "pix2pix-benchmark",
            dependencies: ["DeepLearning", "Pix2Pix", "COpenBLAS"],
            path: "Benchmarks/Pix2PixBenchmark"
        ),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("z")]
        ),
        .target(name: "Imaging", dependencies: ["DeepLearning", "CImageCodecs"]),
        .executableTarget(name: "fuzz-readers", dependencies: ["DeepLearning", "Imaging"], path: "Fuzz/FuzzReaders"),
        .executableTarget(
            name: "kernel-benchmark",
            dependencies: ["DeepLearning", "COpenBLAS"],
            path: "Benchmarks/KernelBenchmark"
        ),
        .testTarget(
            name: "DeepLearningTests",
            dependencies: ["DeepLearning"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(
            name: "Pix2PixTests",
            dependencies: ["Pix2Pix"],
            resources: [.copy("Fixtures")]
        ),
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
        .testTarget(name: "MapsTests", dependencies: ["MapsCore"]),
        .testTarget(name: "DigitsTests", dependencies: ["DigitsCore"]),
        .testTarget(name: "ExtendingTests", dependencies: ["DeepLearning", "Imaging", "Pix2Pix"]),
    ],
    swiftLanguageModes: [.v5]
)
