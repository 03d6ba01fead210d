using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using Microsoft.ML.OnnxRuntime;
using Tora.Inference.Pipeline;
using Tora.Inference.Vae;
using Tora.Models.Architectures;
using Tora.Models.Checkpoints;

namespace Tora.Cli;

/// <summary>
/// <c>tora bench vae</c>: decodes seeded random latents at a VAE's own sample size with the decoder chunk graph
/// compiled from its checkpoint (float32, CPU provider), whole frames or tiled, and prints the time and the
/// process's peak resident memory (VmHWM) — the real-size figures of bench/README.md.
/// </summary>
public static class VaeBench
{
    /// <summary>The <c>bench vae</c> command.</summary>
    public static Command Create()
    {
        var vae = new Option<string>("--vae") { Description = "VAE folder (config.json + diffusion_pytorch_model.safetensors), e.g. from 'tora model random --only vae'.", Required = true };
        var latentFrames = new Option<int>("--latent-frames") { Description = "Latent frames to decode (13 → 49 frames).", DefaultValueFactory = _ => 13 };
        var tiling = new Option<string>("--vae-tiling") { Description = "off, on (half-frame tiles) or HxW.", DefaultValueFactory = _ => "off" };
        var threads = new Option<int>("--threads") { Description = "Intra-op threads (0: one per core).", DefaultValueFactory = _ => 0 };
        var seed = new Option<int>("--seed") { Description = "Seed of the random latents.", DefaultValueFactory = _ => 0 };
        var arena = new Option<string>("--cpu-arena") { Description = "off (as the pipeline's VAE sessions run): every tensor allocated on its own and freed after its last use; on: ONNX Runtime's CPU memory arena (to tell the arena's share of the peak).", DefaultValueFactory = _ => "off" };
        arena.AcceptOnlyFromAmong("on", "off");
        var command = new Command("vae", "Time a VAE decode on the CPU provider and report the peak resident memory.") { vae, latentFrames, tiling, threads, seed, arena };
        command.SetAction(parse =>
        {
            int frames = parse.GetValue(latentFrames);
            if (frames < 1) throw new CliException("--latent-frames must be at least 1");
            VaeTilingChoice choice;
            try
            {
                choice = VaeTilingChoice.Parse(parse.GetValue(tiling) ?? "off");
            }
            catch (FormatException e)
            {
                throw new CliException($"--vae-tiling: {e.Message}");
            }
            try
            {
                Run(parse.GetRequiredValue(vae), frames, choice, parse.GetValue(threads), parse.GetValue(seed), parse.GetValue(arena) == "on", Console.WriteLine);
            }
            catch (Exception e) when (e is OnnxRuntimeException or InvalidDataException or ArgumentException or CheckpointException or IOException)
            {
                throw new CliException(e.Message, 1);
            }
            return 0;
        });
        return command;
    }

    private static void Run(string folder, int latentFrames, VaeTilingChoice choice, int threads, int seed, bool cpuArena, Action<string> log)
    {
        var config = CogVideoXVaeConfig.Load(Path.Combine(folder, "config.json"));
        int scale = config.SpatialCompression, height = config.SampleHeight, width = config.SampleWidth;
        var tiles = choice.Resolve(height, width, scale, lowMemory: false, log);
        var clock = Stopwatch.StartNew();
        byte[] model;
        using (var ckpt = Checkpoint.Open(folder))
            model = CogVideoXVae.BuildDecoderChunk(ckpt, config).ToBytes();
        log(Invariant($"decoder graph built: {model.Length / 1e6:F0} MB in {clock.Elapsed.TotalSeconds:F1} s, peak RSS {PeakRssGiB():F2} GiB"));
        // The pipeline's own session options, so the figure is what a job's decode costs.
        using var options = new OrtSessionFactory(new ExecutionOptions { Provider = ExecutionProviderChoice.Cpu, IntraOpThreads = threads, Log = log })
            .CreateOptions(cpuArena);
        clock.Restart();
        using var session = new InferenceSession(model, options);
        model = [];
        GC.Collect();
        log(Invariant($"session created in {clock.Elapsed.TotalSeconds:F1} s (CPU arena {(cpuArena ? "on" : "off")}), peak RSS {PeakRssGiB():F2} GiB"));
        using var decoder = new VaeDecoder(session, config.ScalingFactor, height / scale, width / scale, (int)config.TemporalCompressionRatio, tiling: tiles);
        var random = new Random(seed);
        var latents = new float[(long)config.LatentChannels * latentFrames * (height / scale) * (width / scale)];
        for (int i = 0; i < latents.Length; i++) latents[i] = (float)(random.NextDouble() * 2 - 1);
        clock.Restart();
        var frames = decoder.DecodeToUint8(latents, latentFrames, FrameLayout.FramesFirst);
        var mode = tiles is null ? "whole frames" : $"tiles {tiles}";
        log(Invariant($"decoded [1, {latentFrames}, {config.LatentChannels}, {height / scale}, {width / scale}] → {decoder.FramesFor(latentFrames)} x {height} x {width} ({mode}) in {clock.Elapsed.TotalSeconds:F1} s; peak RSS {PeakRssGiB():F2} GiB; {frames.Length} bytes"));
    }

    /// <summary>VmHWM of this process (Linux), in GiB; NaN elsewhere.</summary>
    private static double PeakRssGiB()
    {
        const string Key = "VmHWM:";
        if (!File.Exists("/proc/self/status")) return double.NaN;
        foreach (var line in File.ReadLines("/proc/self/status"))
            if (line.StartsWith(Key, StringComparison.Ordinal))
                return long.Parse(line[Key.Length..].Trim().Split(' ')[0], CultureInfo.InvariantCulture) / (1024.0 * 1024.0);
        return double.NaN;
    }

    private static string Invariant(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
}
