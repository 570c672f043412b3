# fastapi-infra: generate Terraform from envs/<ENV>.toml, then run it.
# Every Terraform target works on generated/$(ENV); ENV defaults to dev.
ENV ?= dev
TF ?= terraform
TFDIR := generated/$(ENV)
TFVARS := $(CURDIR)/envs/$(ENV).tfvars
APPROVE := $(if $(filter 1,$(AUTO_APPROVE)),-auto-approve,)

.DEFAULT_GOAL := help
.PHONY: help bootstrap generate lock init plan apply destroy output check test test-quick fmt lint bench tfvars

help: ## List the targets
	@echo "usage: make <target> [ENV=dev|prod|...] [AUTO_APPROVE=1]"
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/\$$(ENV)/$(ENV)/g' | awk -F':.*## ' '{printf "  %-11s %s\n", $$1, $$2}'

bootstrap: ## Create the state bucket and lock table (once per account; local state)
	cargo run -q -p gen -- --env bootstrap
	$(TF) -chdir=generated/bootstrap init -input=false
	$(TF) -chdir=generated/bootstrap apply $(APPROVE)

generate: ## Write generated/$(ENV) from envs/$(ENV).toml
	cargo run -q -p gen -- --env $(ENV)

# Providers come from the machine's mirror when there is one (this project's machines), else
# from the registry. linux_amd64 is what this machine and CI's runners are; add yours with
# LOCK_PLATFORMS="-platform=linux_amd64 -platform=darwin_arm64" (that needs the registry).
LOCK_MIRROR ?= $(if $(wildcard /opt/tf-plugins/registry.terraform.io),-fs-mirror=/opt/tf-plugins,)
LOCK_PLATFORMS ?= -platform=linux_amd64
lock: ## Write generated/$(ENV)/.terraform.lock.hcl (terraform providers lock); commit it
	$(TF) -chdir=$(TFDIR) providers lock $(LOCK_MIRROR) $(LOCK_PLATFORMS)

init: generate ## terraform init with the S3 backend
	$(TF) -chdir=$(TFDIR) init -input=false

# A new env has no example of its own: it starts from dev's.
tfvars:
	@test -f "$(TFVARS)" || { ex=envs/$(ENV).tfvars.example; test -f "$$ex" || ex=envs/dev.tfvars.example; \
	  echo "error: $(TFVARS) is missing; fix: cp $$ex $(patsubst $(CURDIR)/%,%,$(TFVARS)) and fill it in" >&2; exit 2; }

plan: tfvars ## terraform plan with envs/$(ENV).tfvars
	$(TF) -chdir=$(TFDIR) plan -input=false -var-file=$(TFVARS) -out=tfplan

apply: tfvars ## terraform apply (the saved plan when there is one)
	@if [ -f $(TFDIR)/tfplan ]; then $(TF) -chdir=$(TFDIR) apply -input=false tfplan && rm -f $(TFDIR)/tfplan; \
	else $(TF) -chdir=$(TFDIR) apply -input=false -var-file=$(TFVARS) $(APPROVE); fi

destroy: tfvars ## terraform destroy (asks unless AUTO_APPROVE=1)
	$(TF) -chdir=$(TFDIR) destroy -var-file=$(TFVARS) $(APPROVE)

output: ## terraform output (app_url, rds_endpoint, ...)
	$(TF) -chdir=$(TFDIR) output

check: ## Fail when generated/ is stale
	cargo run -q -p gen -- --all --check

test: ## The whole test suite (what CI runs)
	scripts/test.sh

test-quick: ## The test suite without the moto end-to-end tests
	scripts/test.sh --quick

fmt: ## Format the Rust code
	cargo fmt --all

lint: ## clippy, rustfmt check and shellcheck
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	shellcheck -x scripts/*.sh .ci/run tests/host/*.sh generated/*/user_data.sh

bench: ## Time and peak memory of generating every environment
	cargo run -q --release -p gen --bin gen-bench
