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
