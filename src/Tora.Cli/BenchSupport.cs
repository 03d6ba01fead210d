using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Microsoft.ML.OnnxRuntime;
using Tora.Models.Onnx;

namespace Tora.Cli;

/// <summary>
/// The execution provider of a measurement: CUDA when its libraries load (ONNX Runtime 1.31 needs CUDA 13 and
/// cuDNN 9 on the library path), otherwise the CPU provider with one clear log line saying why.
/// </summary>
internal sealed class ExecutionProvider : IDisposable
{
    private readonly int _deviceId;
    private readonly IReadOnlyDictionary<string, string> _extra;

    private ExecutionProvider(bool cuda, int deviceId, IReadOnlyDictionary<string, string> extra)
    {
        _extra = extra;
        IsCuda = cuda;
        _deviceId = deviceId;
        DeviceMemory = cuda ? new OrtMemoryInfo(OrtMemoryInfo.allocatorCUDA, OrtAllocatorType.DeviceAllocator, deviceId, OrtMemType.Default) : OrtMemoryInfo.DefaultInstance;
    }

    /// <summary>True when the sessions run on the CUDA provider.</summary>
    public bool IsCuda { get; }

    /// <summary>Provider name as ORT spells it.</summary>
    public string Name => IsCuda ? Tora.Inference.Pipeline.OrtSessionFactory.CudaProvider : Tora.Inference.Pipeline.OrtSessionFactory.CpuProvider;

    /// <summary>Where outputs that stay on the device are bound.</summary>
    public OrtMemoryInfo DeviceMemory { get; }

    /// <summary>Probes CUDA (when asked) by appending its provider once; falls back to CPU on failure.</summary>
    /// <param name="cuda">Try the CUDA provider.</param>
    /// <param name="deviceId">CUDA device ordinal.</param>
    /// <param name="log">Progress lines, the provider decision among them.</param>
    /// <param name="extraCudaOptions">More CUDA provider options (e.g. <c>sdpa_kernel</c>), or null.</param>
    public static ExecutionProvider Create(bool cuda, int deviceId, Action<string> log, IReadOnlyDictionary<string, string>? extraCudaOptions = null)
    {
        var extra = extraCudaOptions ?? new Dictionary<string, string>();
        if (cuda)
        {
            try
            {
                using var probe = new SessionOptions();
                AppendCuda(probe, deviceId, extra);
                log($"execution provider: CUDAExecutionProvider on device {deviceId}" + string.Concat(extra.Select(kv => $", {kv.Key}={kv.Value}")));
                return new ExecutionProvider(true, deviceId, extra);
            }
            catch (Exception e) when (e is OnnxRuntimeException or DllNotFoundException or EntryPointNotFoundException)
            {
                log($"CUDA execution provider unavailable, FALLING BACK TO CPU: {e.Message.ReplaceLineEndings(" ")}");
            }
        }
        log("execution provider: CPUExecutionProvider");
        return new ExecutionProvider(false, -1, extra);
    }

    /// <summary>Session options for this provider (docs/model.md §6.3: all optimisations, arena grown as requested).</summary>
    /// <param name="profilePrefix">ORT profiling file prefix, or null.</param>
    /// <param name="optimizedModel">Path to save the optimised graph to (weights into <c>path.data</c>), or null.</param>
    public SessionOptions Options(string? profilePrefix, string? optimizedModel)
    {
        var o = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
        if (IsCuda)
        {
            AppendCuda(o, _deviceId, _extra);
            // A node off CUDA would make the measurement a CPU one in disguise (docs/gpu.md).
            o.AddSessionConfigEntry(Tora.Inference.Pipeline.OrtSessionFactory.DisableCpuFallback, "1");
        }
        if (profilePrefix is not null)
        {
            // The prefix first: setting EnableProfiling hands ORT the prefix it holds at that moment.
            o.ProfileOutputPathPrefix = profilePrefix;
            o.EnableProfiling = true;
        }
        if (optimizedModel is not null)
        {
            o.OptimizedModelFilePath = optimizedModel;
            // Real-size graphs exceed protobuf's 2 GB: their weights must go to an external file.
            o.AddSessionConfigEntry("session.optimized_model_external_initializers_file_name", Path.GetFileName(optimizedModel) + ".data");
            o.AddSessionConfigEntry("session.optimized_model_external_initializers_min_size_in_bytes", "1024");
        }
        return o;
    }

    private static void AppendCuda(SessionOptions options, int deviceId, IReadOnlyDictionary<string, string> extra)
    {
        using var cuda = new OrtCUDAProviderOptions();
        // The product's settings, so that a measurement measures what a job runs; --cuda-option overrides them.
        var settings = Tora.Inference.Pipeline.OrtSessionFactory.CudaSettings(deviceId);
        foreach (var (k, v) in extra) settings[k] = v;
        cuda.UpdateOptions(settings);
        options.AppendExecutionProvider_CUDA(cuda);
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (IsCuda) DeviceMemory.Dispose();
    }
}

/// <summary>Peak GPU memory in use, polled from <c>nvidia-smi</c> every 100 ms while a measurement runs.</summary>
internal sealed class GpuMemoryMonitor : IDisposable
{
    private readonly CancellationTokenSource _stop = new();
    private readonly Thread? _thread;
    private long _peak = -1;

    private GpuMemoryMonitor(int deviceId, Action<string> log)
    {
        if (deviceId < 0) return;
        var first = Query(deviceId);
        if (first is null)
        {
            log("peak GPU memory: not measured (nvidia-smi did not answer)");
            return;
        }
        log($"GPU memory in use before loading: {first} MiB");
        _peak = first.Value;
        _thread = new Thread(() =>
        {
            while (!_stop.Token.WaitHandle.WaitOne(100))
                if (Query(deviceId) is long used && used > Interlocked.Read(ref _peak)) Interlocked.Exchange(ref _peak, used);
        }) { IsBackground = true, Name = "nvidia-smi poll" };
        _thread.Start();
    }

    /// <summary>Peak MiB in use on the device (every process), or null when not measured.</summary>
    public long? PeakMiB => _peak < 0 ? null : Interlocked.Read(ref _peak);

    /// <summary>Starts polling; <paramref name="deviceId"/> &lt; 0 measures nothing.</summary>
    public static GpuMemoryMonitor Start(int deviceId, Action<string> log) => new(deviceId, log);

    private static long? Query(int deviceId)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("nvidia-smi", ["--query-gpu=memory.used", "--format=csv,noheader,nounits", "-i", deviceId.ToString(CultureInfo.InvariantCulture)])
                { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false });
            if (p is null) return null;
            var text = p.StandardOutput.ReadToEnd();
            p.WaitForExit();
            return p.ExitCode == 0 && long.TryParse(text.Trim(), NumberStyles.Integer, CultureInfo.InvariantCulture, out var v) ? v : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        _stop.Cancel();
        _thread?.Join();
        _stop.Dispose();
    }
}

/// <summary>Reads what ORT wrote: the profile (node placement, op-type totals) and the optimised graph (op counts).</summary>
internal static class ProfileSummary
{
    /// <summary>Prints the providers nodes ran on and the op types with the largest total time.</summary>
    public static void Print(string profileFile, Action<string> log)
    {
        using var doc = JsonDocument.Parse(File.ReadAllBytes(profileFile));
        var byOp = new Dictionary<string, (double Us, int Count)>();
        var byProvider = new Dictionary<string, int>();
        foreach (var e in doc.RootElement.EnumerateArray())
        {
            if (e.GetProperty("cat").GetString() != "Node" || !e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal)) continue;
            var args = e.GetProperty("args");
            var op = args.GetProperty("op_name").GetString()!;
            var provider = args.TryGetProperty("provider", out var p) ? p.GetString()! : "?";
            var (us, n) = byOp.GetValueOrDefault(op);
            byOp[op] = (us + e.GetProperty("dur").GetDouble(), n + 1);
            byProvider[provider] = byProvider.GetValueOrDefault(provider) + 1;
        }
        log("profile: node runs by provider: " + string.Join(", ", byProvider.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        double total = byOp.Values.Sum(v => v.Us);
        // On the CUDA provider these are host-side kernel times (ORT's release build has no CUDA event profiling):
        // they rank launches, not GPU work; the step median above is the GPU figure.
        log("profile: op types by recorded time (us, share, node runs):");
        foreach (var (op, (us, n)) in byOp.OrderByDescending(kv => kv.Value.Us).Take(12))
            log(FormattableString.Invariant($"  {op,-28} {us,14:F0} {100 * us / Math.Max(total, 1),6:F1}% {n,6}"));
    }

    /// <summary>Prints the op types of an optimised graph: fused attention shows as MultiHeadAttention with no Softmax.</summary>
    public static void PrintOpCounts(string modelPath, Action<string> log)
    {
        ModelProto model;
        using (var f = File.OpenRead(modelPath)) model = ModelProto.Parser.ParseFrom(f);
        var counts = model.Graph.Node.GroupBy(n => string.IsNullOrEmpty(n.Domain) ? n.OpType : $"{n.Domain}:{n.OpType}")
            .Select(g => (Op: g.Key, Count: g.Count())).OrderByDescending(x => x.Count).ThenBy(x => x.Op, StringComparer.Ordinal);
        log($"optimised graph {modelPath}: {model.Graph.Node.Count} nodes: " + string.Join(", ", counts.Select(c => $"{c.Op} {c.Count}")));
        int softmax = model.Graph.Node.Count(n => n.OpType == "Softmax");
        int mha = model.Graph.Node.Count(n => n.OpType is "MultiHeadAttention" or "Attention");
        log($"attention check: {mha} fused attention nodes, {softmax} Softmax nodes{(softmax == 0 && mha > 0 ? " (no attention matrix materialised by the graph)" : "")}");
    }
}
