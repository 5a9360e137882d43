namespace Imagebin.Features.Admin;

public static class AdminSetup
{
    /// <summary>Services only the admin commands use.</summary>
    public static WebApplicationBuilder AddAdmin(this WebApplicationBuilder builder)
    {
        builder.Services.AddTransient<StoreMigration>();
        return builder;
    }
}
