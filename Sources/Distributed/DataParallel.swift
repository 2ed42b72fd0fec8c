// Data-parallel training in the manner of PyTorch's DistributedDataParallel: every process holds
// a whole copy of the model, trains on its own shard of each batch, and after each backward pass
// the gradients are averaged over the processes, so every copy takes the same optimizer step.
//
// Gradients travel in buckets of about `bucketMegabytes` (one allreduce per bucket, not per
// parameter). The parameters are put into buckets in the reverse of their declaration order —
// roughly the order backward produces their gradients — and a bucket's allreduce starts on the
// communication thread as soon as its last gradient is final (`gradientReady`, called from
// `Tensor.backward(onGradientReady:)`), while the backward pass goes on.

import DeepLearning
import Foundation

/// Averages one model's gradients over the processes of a `ProcessGroup`.
///
/// One backward pass per `synchronize()`: a bucket's allreduce starts as soon as its gradients
/// are final, so gradients accumulated over several passes (PyTorch's `no_sync`) are not
/// supported; every process must run the same backward passes in the same order.
public final class DataParallel: GradientSynchronizer, @unchecked Sendable {
    /// The processes.
    public let group: ProcessGroup
    /// Start each bucket's allreduce during the backward pass (default), or all of them after it.
    public var overlapsCommunication: Bool
    /// The buckets' sizes in floats, in the order they are reduced.
    public var bucketSizes: [Int] { buckets.map(\.count) }
    /// Seconds the caller spent in `synchronize()` waiting for communication (summed).
    public private(set) var waitingSeconds = 0.0

    private let parameters: [Parameter]
    private var bucketOfParameter: [ObjectIdentifier: Int] = [:]
    private var buckets: [Bucket]

    private struct Bucket {
        /// Indices into `parameters` and each one's offset in `buffer`.
        var members: [(parameter: Int, offset: Int)]
        var count: Int
        var buffer: UnsafeMutableBufferPointer<Float>
        var ready = 0
        var pending: PendingOperation?
    }

    /// Wraps `module`'s parameters, and makes every process start from rank 0's parameters and
    /// buffers (running statistics).
    ///
    /// - Parameters:
    ///   - module: the model this process trains (the same architecture on every process).
    ///   - group: the processes.
    ///   - bucketMegabytes: float32 gradient per allreduce (default 25, PyTorch's).
    ///   - overlap: start a bucket's allreduce as soon as its gradients are final (default).
    /// - Throws: `DistributedError` when the broadcast fails.
    public init(_ module: Module, group: ProcessGroup, bucketMegabytes: Double = 25, overlap: Bool = true) throws {
        self.group = group
        overlapsCommunication = overlap
        parameters = module.parameters
        let capacity = Swift.max(1, Int(bucketMegabytes * 1_048_576) / 4)
        var buckets: [Bucket] = []
        var members: [(parameter: Int, offset: Int)] = [], count = 0
        func close() {
            guard !members.isEmpty else { return }
            let buffer = UnsafeMutableBufferPointer<Float>.allocate(capacity: count)
            buckets.append(Bucket(members: members, count: count, buffer: buffer))
            members = []
            count = 0
        }
        // A bucket closes once it holds at least the capacity (PyTorch's rule): a large kernel
        // and the small biases and norms next to it travel together.
        for index in parameters.indices.reversed() {
            members.append((index, count))
            count += parameters[index].value.count
            if count >= capacity { close() }
        }
        close()
        self.buckets = buckets
        for (b, bucket) in buckets.enumerated() {
            for member in bucket.members { bucketOfParameter[ObjectIdentifier(parameters[member.parameter])] = b }
        }
        try broadcastState(of: module)
    }

    deinit {
        for bucket in buckets { bucket.buffer.deallocate() }
    }

    /// Replaces every parameter and buffer of `module` by rank 0's.
    public func broadcastState(of module: Module) throws {
        for parameter in module.parameters {
            var value = parameter.value.detached()
            try value.withUnsafeMutableBufferPointer { try group.broadcast($0) }
            parameter.value = value
        }
        for (_, buffer) in module.namedBuffers {
            var value = buffer.value
            try value.withUnsafeMutableBufferPointer { try group.broadcast($0) }
            buffer.value = value
        }
    }

    /// Called as each parameter's gradient becomes final in the backward pass
    /// (`loss.backward(onGradientReady: dataParallel.gradientReady)`): when it completes a
    /// bucket, that bucket's allreduce starts.
    public func gradientReady(_ parameter: Parameter) {
        guard overlapsCommunication, let b = bucketOfParameter[ObjectIdentifier(parameter)] else { return }
        buckets[b].ready += 1
        if buckets[b].ready == buckets[b].members.count { start(b) }
    }

    /// Waits for every bucket (starting the ones not yet started), then sets each parameter's
    /// gradient to the mean over the processes. A parameter without a gradient on this process
    /// counts as zeros, so every process ends with the same gradients.
    ///
    /// - Throws: `DistributedError` when an allreduce fails.
    public func synchronize() throws {
        let started = DispatchTime.now().uptimeNanoseconds
        defer {
            waitingSeconds += Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
            for b in buckets.indices {
                buckets[b].ready = 0
                buckets[b].pending = nil
            }
        }
        for b in buckets.indices where buckets[b].pending == nil { start(b) }
        let scale = 1 / Float(group.size)
        for bucket in buckets {
            try bucket.pending!.wait()
            for member in bucket.members {
                let parameter = parameters[member.parameter]
                var mean = Tensor(shape: parameter.shape, repeating: 0)
                mean.withUnsafeMutableBufferPointer { out in
                    let source = bucket.buffer.baseAddress! + member.offset
                    for i in 0..<out.count { out[i] = source[i] * scale }
                }
                parameter.replaceGradient(with: mean)
            }
        }
    }

    /// Copies bucket `b`'s gradients into its buffer and starts their allreduce.
    private func start(_ b: Int) {
        let bucket = buckets[b]
        for member in bucket.members {
            let parameter = parameters[member.parameter]
            let target = bucket.buffer.baseAddress! + member.offset
            if let gradient = parameter.gradient {
                gradient.withUnsafeBufferPointer { target.update(from: $0.baseAddress!, count: $0.count) }
            } else {
                target.update(repeating: 0, count: parameter.value.count)
            }
        }
        buckets[b].pending = group.startAllReduceSum(bucket.buffer)
    }
}

extension ProcessGroup: CrossProcessReducer {
    /// Sums `values` over the processes for synchronised batch normalisation; a failure
    /// there (a lost process) ends this one with the reason.
    public func sumOverProcesses(_ values: inout [Float]) {
        do {
            try allReduceSum(&values)
        } catch {
            fatalError("synchronised batch normalisation (rank \(rank) of \(size)): \(error)")
        }
    }
}
