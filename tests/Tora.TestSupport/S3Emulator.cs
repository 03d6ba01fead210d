using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Tora.TestSupport;

/// <summary>
/// The s3rver S3 emulator (npm; <c>TORA_TEST_S3RVER</c>, installed by test.sh) on a fixed loopback port and data
/// folder, so a test can stop it (the blob store becomes unreachable) and start it again with its objects intact.
/// </summary>
public sealed class S3Emulator : IAsyncDisposable
{
    /// <summary>The bucket created at start.</summary>
    public const string Bucket = "tora-test";

    private readonly string _exe;
    private readonly string _folder = TestData.TempFolder("fault-s3");
    private readonly int _port = FreePort();
    private Process? _process;

    private S3Emulator(string exe) => _exe = exe;

    /// <summary>http://127.0.0.1:port</summary>
    public string Url => $"http://127.0.0.1:{_port}";

    /// <summary>The folder s3rver keeps its objects in (<c>bucket/key._S3rver_object</c> files).</summary>
    public string Folder => _folder;

    /// <summary>Settings that point the service's blob store at this emulator.</summary>
    public Dictionary<string, string> Settings() => new()
    {
        ["Tora:Storage:Kind"] = "s3",
        ["Tora:Storage:S3:ServiceUrl"] = Url,
        ["Tora:Storage:S3:Bucket"] = Bucket,
        ["Tora:Storage:S3:AccessKey"] = "S3RVER",
        ["Tora:Storage:S3:SecretKey"] = "S3RVER",
    };

    /// <summary>Starts a new emulator.</summary>
    public static async Task<S3Emulator> StartNewAsync()
    {
        var exe = Environment.GetEnvironmentVariable("TORA_TEST_S3RVER") is { Length: > 0 } e ? e
            : Path.Combine(TestData.RepositoryRoot, ".data/node/node_modules/.bin/s3rver");
        if (!File.Exists(exe)) throw new InvalidOperationException($"s3rver is not installed at {exe}: run the tests through ./test.sh, which installs it");
        var emulator = new S3Emulator(exe);
        await emulator.StartAsync();
        return emulator;
    }

    /// <summary>Starts the (stopped) emulator on its port and waits until it accepts connections.</summary>
    public async Task StartAsync()
    {
        // Started directly (not through npx) so killing the process id stops the server (docs/operations.md §6).
        _process = Process.Start(new ProcessStartInfo(_exe, ["-d", _folder, "-a", "127.0.0.1", "-p", _port.ToString(), "--silent", "--configure-bucket", Bucket])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        })!;
        await Wait.UntilListeningAsync(_process, _port, TimeSpan.FromSeconds(30), () => "s3rver", TimeSpan.FromMilliseconds(50));
    }

    /// <summary>Kills the emulator: connections to its port are refused until <see cref="StartAsync"/>.</summary>
    public async Task StopAsync()
    {
        if (_process is null) return;
        if (!_process.HasExited) _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
        _process = null;
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try { Directory.Delete(_folder, true); } catch (IOException) { }
    }
}
