using Tora.TestSupport;

namespace Tora.Client.Tests;

/// <summary>
/// openapi.yaml as two more tools read it: the TypeScript types openapi-typescript generates must compile (tsc,
/// strict) under a small create → poll → download script, and Redocly's recommended rules must find no error and no
/// warning beyond the reasoned ones in .redocly.lint-ignore.yaml.
/// </summary>
public sealed class ContractToolTests
{
    private static string OpenApi => Path.Combine(TestData.RepositoryRoot, "openapi.yaml");

    [Fact]
    public async Task The_openapi_typescript_types_compile_under_a_create_poll_download_script()
    {
        var folder = TestData.TempFolder("tora-ts");
        foreach (var file in new[] { "client.ts", "tsconfig.json" })
            File.Copy(Path.Combine(AppContext.BaseDirectory, "typescript", file), Path.Combine(folder, file));
        var (generated, generateOutput) = await NodeTools.RunAsync("openapi-typescript", [OpenApi, "-o", Path.Combine(folder, "api.d.ts")],
            folder, TimeSpan.FromMinutes(2));
        Assert.True(generated == 0, generateOutput);
        var (compiled, compileOutput) = await NodeTools.RunAsync("tsc", ["-p", folder], folder, TimeSpan.FromMinutes(2));
        Assert.True(compiled == 0, compileOutput);
    }

    [Fact]
    public async Task The_committed_csharp_client_is_what_Kiota_generates_from_openapi_yaml()
    {
        var root = TestData.RepositoryRoot;
        var output = Path.Combine(TestData.TempFolder("tora-kiota"), "Generated");
        var psi = new System.Diagnostics.ProcessStartInfo("bash", [Path.Combine(root, "clients/csharp/generate.sh"), output])
        {
            WorkingDirectory = root, RedirectStandardOutput = true, RedirectStandardError = true,
        };
        using (var process = System.Diagnostics.Process.Start(psi)!)
        {
            var log = process.StandardOutput.ReadToEndAsync();
            var errors = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.True(process.ExitCode == 0, await log + errors);
        }
        var committed = Path.Combine(root, "clients/csharp/Generated");
        string[] Files(string dir) => Directory.GetFiles(dir, "*", SearchOption.AllDirectories).Select(f => Path.GetRelativePath(dir, f)).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Files(output), Files(committed));
        foreach (var file in Files(output))
            Assert.True(File.ReadAllText(Path.Combine(output, file)) == File.ReadAllText(Path.Combine(committed, file)),
                $"clients/csharp/Generated/{file} differs from what Kiota generates now: run clients/csharp/generate.sh");
    }

    [Fact]
    public async Task Redocly_recommended_rules_find_no_error_and_no_unexplained_warning()
    {
        var root = TestData.RepositoryRoot;
        var (code, output) = await NodeTools.RunAsync("redocly", ["lint", "openapi.yaml", "--config", "redocly.yaml", "--format", "stylish"],
            root, TimeSpan.FromMinutes(2));
        Assert.True(code == 0, output);
        Assert.Contains("Your API description is valid", output);
        // Problem lines read "line:column  severity  rule  message" (Redocly's own notices, e.g. about Node.js, do not).
        var problems = output.Split('\n').Where(l => System.Text.RegularExpressions.Regex.IsMatch(l, @"^\s*\d+:\d+\s+(error|warning)\s")).ToList();
        Assert.True(problems.Count == 0, string.Join("\n", problems));
    }
}
