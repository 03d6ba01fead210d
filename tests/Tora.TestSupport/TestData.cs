namespace Tora.TestSupport;

/// <summary>Locates the copies of golden files and tiny checkpoints under <c>tests/data</c>.</summary>
public static class TestData
{
    private static readonly Lazy<string> Root = new(FindRoot);

    /// <summary>Absolute path of <c>tests/data/&lt;relative&gt;</c>; fails the test if it does not exist.</summary>
    public static string Path(string relative)
    {
        var p = System.IO.Path.Combine(Root.Value, relative);
        if (!File.Exists(p) && !Directory.Exists(p))
            throw new FileNotFoundException($"test data '{relative}' is missing under {Root.Value}", p);
        return p;
    }

    /// <summary>The repository root (the folder holding <c>Tora.Server.sln</c>).</summary>
    public static string RepositoryRoot => System.IO.Path.GetDirectoryName(System.IO.Path.GetDirectoryName(Root.Value))!;

    /// <summary>A fresh empty folder under the system temp directory.</summary>
    public static string TempFolder(string prefix = "tora-test")
    {
        var p = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"{prefix}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(p);
        return p;
    }

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Tora.Server.sln")))
                return System.IO.Path.Combine(dir.FullName, "tests", "data");
        }
        throw new DirectoryNotFoundException($"no Tora.Server.sln above {AppContext.BaseDirectory}");
    }
}
