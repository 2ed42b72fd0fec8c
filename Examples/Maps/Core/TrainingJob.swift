import DeepLearning
import Distributed
import Foundation
import Pix2Pix

/// Every rank's dropout streams at a checkpoint, in rank order (rank 0's are also the trainer's
/// own saved state): resuming with as many ranks continues each rank's stream.
struct RankStreams: Codable {
    var dropout: [[String: SeededGenerator]]
}

/// This process's part in `maps train`: alone, or one rank of an `mpirun -np N` job
/// (Docs/Distributed.md). Rank 0 (the leader, or the lone process) writes every file and
/// prints; the others only train.
struct TrainingJob {
    /// The MPI job, when started by `mpirun` (even `-np 1`).
    let group: ProcessGroup?

    var rank: Int { group?.rank ?? 0 }
    var size: Int { group?.size ?? 1 }
    var isLeader: Bool { rank == 0 }

    init() throws {
        do {
            group = try ProcessGroup.fromEnvironment()
        } catch {
            throw MapsError("cannot join the MPI job: \(error)")
        }
    }

    /// Prints `message` on the leader only.
    func say(_ message: String) {
        if isLeader { MapsCore.say(message) }
    }

    /// Makes `trainer` one data-parallel copy of the job's model: rank 0's weights broadcast,
    /// a dropout stream per rank (the checkpoint's when it was saved by as many ranks,
    /// otherwise derived from the seed, the rank and the step), batch norm synchronised if the
    /// run says so, and gradients averaged after every backward pass.
    ///
    /// - Returns: this rank's share of every epoch, or nil for a lone process.
    func join(
        _ trainer: Pix2PixTrainer, options: RunOptions, pairs: Int, saved: RankStreams?
    ) throws
        -> DistributedSampler?
    {
        guard let group, group.size > 1 else { return nil }
        group.fitThreadsToAffinity()
        if let saved, saved.dropout.count == size {
            trainer.dropoutGeneratorStates = saved.dropout[rank]
        } else if rank > 0 {
            var streams = SeededGenerator(
                seed: options.seed ^ (UInt64(rank) &* 0x9E37_79B9_7F4A_7C15) ^ UInt64(trainer.completedSteps))
            var states: [String: SeededGenerator] = [:]
            for name in trainer.dropoutGeneratorStates.keys.sorted() {
                states[name] = SeededGenerator(seed: streams.next())
            }
            trainer.dropoutGeneratorStates = states
        }
        if options.synchronizesBatchNorm { trainer.batchNormSynchronization = group }
        do {
            trainer.synchronizers = (
                generator: try DataParallel(trainer.generator, group: group),
                discriminator: try DataParallel(trainer.discriminator, group: group)
            )
        } catch {
            throw MapsError("rank \(rank) of \(size): \(error)")
        }
        return DistributedSampler(count: pairs, rank: rank, processes: size)
    }

    /// Every rank's dropout streams on the leader (nil elsewhere and for a lone process): a
    /// collective, so every rank calls it at every checkpoint.
    func gatherStreams(_ trainer: Pix2PixTrainer) throws -> RankStreams? {
        guard let group, group.size > 1 else { return nil }
        let mine = Array(try JSONEncoder().encode(trainer.dropoutGeneratorStates))
        do {
            guard let all = try group.gather(mine) else { return nil }
            return RankStreams(
                dropout: try all.map { try JSONDecoder().decode([String: SeededGenerator].self, from: Data($0)) })
        } catch let error as DistributedError {
            throw MapsError("rank \(rank) of \(size): \(error)")
        }
    }

    /// Leaves the MPI job (after every rank is done).
    func finish() throws {
        do {
            try group?.finalize()
        } catch {
            throw MapsError("rank \(rank) of \(size): \(error)")
        }
    }
}
