using Microsoft.ML.OnnxRuntime;

namespace Tora.Inference.Pipeline;

/// <summary>
/// One <see cref="InferenceSession"/> per graph of a package, created on first use and reused by every job. In
/// low-memory mode <see cref="Release"/> disposes a stage's session when the stage ends, so the next job creates it
/// again; otherwise sessions stay resident until the pipeline is disposed. Not thread-safe: one job at a time.
/// </summary>
public sealed class PackageSessions(ModelPackage package, OrtSessionFactory factory, bool lowMemory, Action<string>? log = null) : IDisposable
{
    private readonly Dictionary<string, InferenceSession> _sessions = [];

    /// <summary>Whether stages release their sessions.</summary>
    public bool LowMemory => lowMemory;

    /// <summary>Components whose sessions are loaded now.</summary>
    public IReadOnlyCollection<string> Loaded => _sessions.Keys;

    /// <summary>The session of <paramref name="component"/>, created when it is not loaded.</summary>
    public InferenceSession Get(string component)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_sessions.TryGetValue(component, out var session)) return session;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        session = factory.Create(package.GraphPath(component));
        _sessions[component] = session;
        log?.Invoke($"{component}: session created in {clock.Elapsed.TotalMilliseconds:F0} ms");
        return session;
    }

    /// <summary>Ends a stage: in low-memory mode the components' sessions are disposed; otherwise nothing happens.</summary>
    public void Release(params string[] components)
    {
        if (!lowMemory) return;
        foreach (var c in components)
        {
            if (_sessions.Remove(c, out var s)) s.Dispose();
        }
    }

    private bool _disposed;

    /// <inheritdoc />
    public void Dispose()
    {
        _disposed = true;
        foreach (var s in _sessions.Values) s.Dispose();
        _sessions.Clear();
    }
}
