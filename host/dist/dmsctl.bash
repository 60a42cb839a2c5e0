# bash completion for dmsctl(1): global options, commands, each command's
# flags, values of the flags that take a fixed set, files where a flag
# takes a file, and execution ids (from `dmsctl ls --json`) where a command
# takes one. Installed as <datadir>/bash-completion/completions/dmsctl.
# tests/man/check_man.py checks that every command and flag of
# `dmsctl --help` is here.

_dmsctl_global_opts="--executor --config --system --session --embedded --plugin --json -v --verbose -h --help"
_dmsctl_commands="run start wait logs cancel kill pause resume exec stats inspect cleanup ls ps info metrics image"

# The flags of each command (long and short forms).
_dmsctl_command_opts() {
	case $1 in
	run)
		echo "-v --volume --mount -p --publish --network --net -u --user --entrypoint" \
			"-e --env --env-file -w --workdir -l --label --label-file --read-only --cap-add" \
			"--cap-drop --stop-signal --stop-timeout --pull -t --tty --cpus --cpuset-cpus" \
			"-m --memory --pids-limit --gpus --name -d --detach -q --quiet --rm --timeout" \
			"--results-dir --help" ;;
	start) echo "-f --file --help" ;;
	logs) echo "-f --follow --tail -n --lines -t --timestamps --help" ;;
	kill) echo "-s --signal --help" ;;
	exec) echo "-i --interactive -t --tty -e --env -u --user -w --workdir --help" ;;
	stats) echo "--no-stream --json --help" ;;
	inspect) echo "--json --help" ;;
	image) echo "import -r --ref --help" ;;
	*) echo "--help" ;;
	esac
}

# The execution ids of the executor the command line names, if dmsctl can
# list them (quietly: completion must never print errors).
_dmsctl_ids() {
	local -a args=()
	local i
	for ((i = 1; i < ${#COMP_WORDS[@]} - 1; i++)); do
		case ${COMP_WORDS[i]} in
		--system | --session | --embedded) args+=("${COMP_WORDS[i]}") ;;
		--executor | --config | --plugin) args+=("${COMP_WORDS[i]}" "${COMP_WORDS[i + 1]}") ;;
		esac
	done
	timeout 3 "${COMP_WORDS[0]}" "${args[@]}" --json ls 2>/dev/null |
		grep -o '"execution_id": *"[^"]*"' | sed 's/.*"\([^"]*\)"$/\1/'
}

_dmsctl() {
	local cur prev cmd="" i
	cur=${COMP_WORDS[COMP_CWORD]}
	prev=${COMP_WORDS[COMP_CWORD - 1]}

	# The command: the first word that is neither an option nor the value of
	# a global option that takes one.
	for ((i = 1; i < COMP_CWORD; i++)); do
		case ${COMP_WORDS[i]} in
		--executor | --config | --plugin) ((i++)) ;;
		-*) ;;
		*)
			cmd=${COMP_WORDS[i]}
			break
			;;
		esac
	done

	# Values of options.
	case $prev in
	--config | --plugin | --file | --results-dir | --env-file | --label-file)
		mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		return ;;
	-f) # start -f FILE; logs -f is --follow
		if [ "$cmd" = start ]; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			return
		fi ;;
	-v | --volume) # run -v SRC:DST; the global -v is --verbose
		if [ "$cmd" = run ]; then
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
			compopt -o nospace 2>/dev/null
			return
		fi ;;
	--executor | --name | -n | --lines | --cpus | -m | --memory | -w | --workdir | -u | --user | \
		--entrypoint | --cap-add | --cap-drop | --pids-limit | --cpuset-cpus | -l | --label | \
		--stop-timeout | --timeout | -r | --ref | -p | --publish | --mount)
		return ;; # free-form values
	--network | --net)
		mapfile -t COMPREPLY < <(compgen -W "none bridge host isolated default" -- "$cur")
		return ;;
	--pull)
		mapfile -t COMPREPLY < <(compgen -W "always missing never" -- "$cur")
		return ;;
	--gpus)
		mapfile -t COMPREPLY < <(compgen -W "all device= count= driver=" -- "$cur")
		return ;;
	-s | --signal | --stop-signal)
		mapfile -t COMPREPLY < <(compgen -W "SIGTERM SIGKILL SIGINT SIGHUP SIGQUIT SIGUSR1 SIGUSR2 SIGSTOP SIGCONT" -- "$cur")
		return ;;
	-e | --env)
		mapfile -t COMPREPLY < <(compgen -e -S = -- "$cur")
		compopt -o nospace 2>/dev/null
		return ;;
	esac

	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			mapfile -t COMPREPLY < <(compgen -W "$_dmsctl_global_opts" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -W "$_dmsctl_commands" -- "$cur")
		fi
		return
	fi

	if [[ $cur == -* ]]; then
		mapfile -t COMPREPLY < <(compgen -W "$(_dmsctl_command_opts "$cmd")" -- "$cur")
		return
	fi
	case $cmd in
	wait | logs | cancel | kill | pause | resume | exec | stats | inspect)
		mapfile -t COMPREPLY < <(compgen -W "$(_dmsctl_ids)" -- "$cur") ;;
	image)
		if [ "$prev" = image ]; then
			mapfile -t COMPREPLY < <(compgen -W "import" -- "$cur")
		else
			mapfile -t COMPREPLY < <(compgen -f -- "$cur")
		fi ;;
	esac
}
complete -F _dmsctl dmsctl
