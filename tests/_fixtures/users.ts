// Users of the e2e control plane other than its admin, for RBAC tests: a client certificate
// signed by the plane's CA (kube-apiserver takes the user name from its CN), in a kubeconfig.

import { stringify } from "yaml";
import * as kubeconfig from "../../lib/k8s/kubeconfig.ts";

/** Runs `openssl <args>` in `dir`; throws with openssl's stderr when it fails. */
export async function openssl(dir: string, ...args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

/** A kubeconfig in `dir` for user `name`, its client certificate signed by the cluster's CA. */
export async function userKubeconfig(
  adminKubeconfigPath: string,
  name: string,
  dir: string,
  options: { namespace?: string } = {},
): Promise<string> {
  const pki = adminKubeconfigPath.replace(/kubeconfig$/, "pki");
  await openssl(
    dir,
    "req",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:P-256",
    "-nodes",
    "-subj",
    `/CN=${name}`,
    "-keyout",
    "user.key",
    "-out",
    "user.csr",
  );
  await Deno.writeTextFile(`${dir}/ext`, "extendedKeyUsage=clientAuth\n");
  await openssl(
    dir,
    "x509",
    "-req",
    "-in",
    "user.csr",
    "-CA",
    `${pki}/ca.crt`,
    "-CAkey",
    `${pki}/ca.key`,
    "-CAcreateserial",
    "-days",
    "1",
    "-extfile",
    "ext",
    "-out",
    "user.crt",
  );
  const admin = await kubeconfig.loadKubeconfig({ kubeconfig: adminKubeconfigPath });
  const b64 = (text: string) => btoa(text);
  const config = {
    apiVersion: "v1",
    kind: "Config",
    "current-context": name,
    clusters: [{
      name: "cluster",
      cluster: {
        server: admin.server,
        "certificate-authority-data": b64(admin.caCerts.join("\n")),
      },
    }],
    users: [{
      name,
      user: {
        "client-certificate-data": b64(await Deno.readTextFile(`${dir}/user.crt`)),
        "client-key-data": b64(await Deno.readTextFile(`${dir}/user.key`)),
      },
    }],
    contexts: [{
      name,
      context: {
        cluster: "cluster",
        user: name,
        ...(options.namespace === undefined ? {} : { namespace: options.namespace }),
      },
    }],
  };
  await Deno.writeTextFile(`${dir}/kubeconfig`, stringify(config));
  return `${dir}/kubeconfig`;
}
