// The VS Code side of `nplc lsp` (docs/editors.md): starts the language
// server on standard I/O for `.npl` files and hands it the files' events.
// Everything else (diagnostics, hover, definitions, references, rename,
// completion, quick fixes) is the server's.

import * as vscode from "vscode";
import {
  LanguageClient,
  LanguageClientOptions,
  ServerOptions,
  TransportKind,
} from "vscode-languageclient/node";

let client: LanguageClient | undefined;

export async function activate(context: vscode.ExtensionContext): Promise<void> {
  const command = vscode.workspace.getConfiguration("nplc").get<string>("path") || "nplc";
  const serverOptions: ServerOptions = {
    command,
    args: ["lsp"],
    transport: TransportKind.stdio,
  };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: "file", language: "npl" }, { scheme: "untitled", language: "npl" }],
    synchronize: {
      // the server reads the files that are not open from the disk, and is
      // told when they change
      fileEvents: vscode.workspace.createFileSystemWatcher("**/*.npl"),
    },
  };
  client = new LanguageClient("nplc", "nplc", serverOptions, clientOptions);
  context.subscriptions.push(
    vscode.commands.registerCommand("nplc.restartServer", async () => {
      await client?.restart();
    }),
  );
  await client.start();
}

export async function deactivate(): Promise<void> {
  if (client) {
    await client.stop();
  }
}
