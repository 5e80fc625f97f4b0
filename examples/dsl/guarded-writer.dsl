# An agent whose policy forbids writing and network access; used by the runtime test that
# applies a definition and checks that the deny rule blocks the action.
metadata {
    version = "0.1.0"
    author = "ARS"
    tags = ["example", "policy"]
}

agent guarded_writer(path: String) -> bool {
    capabilities = ["read", "write"]

    policy no_writes {
        allow: read(file) if file.in_project == true
        deny: ["write", "net"]
        require: { approval: false }
        audit: all_interactions
    }

    with sandbox = "docker", timeout = 10s, max_memory_mb = 128, memory = "ephemeral",
         command = ["sh", "-c", "echo writing"] {
        let ok = write(path, "hello");
        ok
    }
}

schedule every_morning {
    cron: "30 7 * * MON-FRI"
    agent: "guarded_writer"
    timezone: "Europe/Berlin"
}
