//! `k8s-adapter`: the Kubernetes adapter. Not built yet; see the README.

fn main() {
    println!("k8s-adapter: not implemented yet; see README.md for the project status");
}
