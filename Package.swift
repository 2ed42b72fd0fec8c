// swift-tools-version:6.0
//
// A CPU deep-learning library for Linux over OpenBLAS/LAPACKE, with reverse-mode
// autodiff, and the pix2pix conditional GAN built on top of it.
// Module stack (each imports only those below it):
//   Maps (Examples/Maps) -> Pix2Pix -> Imaging -> DeepLearning -> COpenBLAS
// No unsafeFlags anywhere: this package must stay importable by other packages.
import PackageDescription

let package = Package(
    name: "DeepLearning",
    products: [
        .library(name: "DeepLearning", targets: ["DeepLearning"]),
        .library(name: "Imaging", targets: ["Imaging"]),
        .library(name: "Pix2Pix", targets: ["Pix2Pix"]),
    ],
    dependencies: [
        .package(url: "https://github.com/weichsel/ZIPFoundation", exact: "0.9.20"),
    ],
    targets: [
        .systemLibrary(
            name: "COpenBLAS",
            pkgConfig: "openblas",
            providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
        ),
        .target(
            name: "DeepLearning",
            dependencies: ["COpenBLAS", .product(name: "ZIPFoundation", package: "ZIPFoundation")]
        ),
        .target(
            name: "CImageCodecs",
            linkerSettings: [.linkedLibrary("jpeg"), .linkedLibrary("png16"), .linkedLibrary("z")]
        ),
        .target(name: "Imaging", dependencies: ["DeepLearning", "CImageCodecs"]),
        .target(name: "Pix2Pix", dependencies: ["DeepLearning"]),
        .executableTarget(
            name: "pix2pix-benchmark",
            dependencies: ["DeepLearning", "Pix2Pix", "COpenBLAS"],
            path: "Benchmarks/Pix2PixBenchmark"
        ),
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
        .testTarget(name: "ImagingTests", dependencies: ["Imaging"]),
        .testTarget(
            name: "Pix2PixTests",
            dependencies: ["Pix2Pix"],
            resources: [.copy("Fixtures")]
        ),
    ],
    swiftLanguageModes: [.v5]
)
